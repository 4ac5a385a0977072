-- Content decay: pages whose organic clicks dropped >30% vs the same 28 days one quarter earlier.
WITH periods AS (
  SELECT
    url,
    SUM(IF(data_date > DATE_SUB(CURRENT_DATE(), INTERVAL 31 DAY), clicks, 0)) AS clicks_recent,
    SUM(IF(data_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 122 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 95 DAY), clicks, 0)) AS clicks_prior,
    SUM(IF(data_date > DATE_SUB(CURRENT_DATE(), INTERVAL 31 DAY), impressions, 0)) AS impr_recent,
    SUM(IF(data_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 122 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 95 DAY), impressions, 0)) AS impr_prior
  FROM `seo-data.searchconsole.searchdata_url_impression`
  WHERE data_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 122 DAY)
    AND search_type = 'WEB'
  GROUP BY url
)
SELECT
  url,
  REGEXP_EXTRACT(url, r'^https?://[^/]+/([^/]+)/') AS section,
  clicks_prior,
  clicks_recent,
  ROUND(SAFE_DIVIDE(clicks_recent - clicks_prior, clicks_prior) * 100, 1) AS clicks_change_pct,
  ROUND(SAFE_DIVIDE(impr_recent - impr_prior, impr_prior) * 100, 1) AS impressions_change_pct,
  CASE
    WHEN SAFE_DIVIDE(impr_recent, impr_prior) < 0.7 THEN 'ranking_loss'
    WHEN SAFE_DIVIDE(clicks_recent, impr_recent) < 0.7 * SAFE_DIVIDE(clicks_prior, impr_prior) THEN 'ctr_loss'
    ELSE 'mixed'
  END AS likely_cause
FROM periods
WHERE clicks_prior >= 200
  AND clicks_recent < 0.7 * clicks_prior
ORDER BY clicks_prior - clicks_recent DESC
LIMIT 300
