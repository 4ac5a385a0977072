-- Creative fatigue: CTR decay by days since creative launch, per platform.
WITH perf AS (
  SELECT
    platform,
    creative_id,
    stat_date,
    impressions,
    clicks,
    spend_usd,
    DATE_DIFF(stat_date, MIN(stat_date) OVER (PARTITION BY platform, creative_id), DAY) AS days_live
  FROM `acme-ads.marts.creative_daily_stats`
  WHERE stat_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 120 DAY)
    AND impressions > 0
)
SELECT
  platform,
  DIV(days_live, 7) AS weeks_live,
  COUNT(DISTINCT creative_id) AS creatives,
  SUM(impressions) AS impressions,
  ROUND(SAFE_DIVIDE(SUM(clicks), SUM(impressions)) * 100, 3) AS ctr_pct,
  ROUND(SAFE_DIVIDE(SUM(spend_usd), SUM(clicks)), 3) AS cpc,
  ROUND(SAFE_DIVIDE(SUM(clicks), SUM(impressions))
        / FIRST_VALUE(SAFE_DIVIDE(SUM(clicks), SUM(impressions))) OVER (PARTITION BY platform ORDER BY DIV(days_live, 7)), 3) AS ctr_index_vs_week0
FROM perf
GROUP BY platform, weeks_live
HAVING weeks_live <= 12
ORDER BY platform, weeks_live
