-- Search Console bulk export: query/page performance with CTR vs position curve.
WITH base AS (
  SELECT
    query,
    url,
    SUM(impressions) AS impressions,
    SUM(clicks) AS clicks,
    SUM(sum_position) / SUM(impressions) + 1 AS avg_position
  FROM `seo-data.searchconsole.searchdata_url_impression`
  WHERE data_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 31 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 3 DAY)
    AND search_type = 'WEB'
    AND NOT is_anonymized_query
  GROUP BY query, url
),
curve AS (
  SELECT
    CAST(ROUND(avg_position) AS INT64) AS pos,
    SAFE_DIVIDE(SUM(clicks), SUM(impressions)) AS expected_ctr
  FROM base
  WHERE avg_position <= 20
  GROUP BY pos
)
SELECT
  b.query,
  b.url,
  b.impressions,
  b.clicks,
  ROUND(b.avg_position, 1) AS avg_position,
  ROUND(SAFE_DIVIDE(b.clicks, b.impressions), 4) AS ctr,
  ROUND(c.expected_ctr, 4) AS expected_ctr,
  ROUND(b.impressions * c.expected_ctr - b.clicks) AS click_gap
FROM base AS b
JOIN curve AS c
  ON c.pos = CAST(ROUND(b.avg_position) AS INT64)
WHERE b.impressions >= 500
ORDER BY click_gap DESC
LIMIT 500
