-- Daily budget utilisation per campaign with alert thresholds defined as typed literals.
WITH thresholds AS (
  SELECT t.*
  FROM UNNEST(ARRAY<STRUCT<platform STRING, under_pct FLOAT64, over_pct FLOAT64>>[
    ('google_ads', 0.7, 1.2),
    ('meta', 0.6, 1.25),
    ('tiktok', 0.5, 1.3),
    ('linkedin', 0.5, 1.1)
  ]) AS t
),
daily AS (
  SELECT
    platform,
    campaign_id,
    campaign_name,
    spend_date,
    cost_usd,
    daily_budget_usd
  FROM `acme-ads.marts.daily_ad_spend`
  WHERE spend_date = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND daily_budget_usd > 0
)
SELECT
  d.platform,
  d.campaign_id,
  d.campaign_name,
  d.cost_usd,
  d.daily_budget_usd,
  ROUND(d.cost_usd / d.daily_budget_usd, 3) AS utilisation,
  CASE
    WHEN d.cost_usd / d.daily_budget_usd < t.under_pct THEN 'under_delivering'
    WHEN d.cost_usd / d.daily_budget_usd > t.over_pct THEN 'over_delivering'
    ELSE 'ok'
  END AS status
FROM daily AS d
JOIN thresholds AS t USING (platform)
ORDER BY utilisation
