-- Keyword cannibalisation: queries where 2+ URLs of the site each get >= 10% of impressions.
WITH q AS (
  SELECT
    query,
    url,
    SUM(impressions) AS impressions,
    SUM(clicks) AS clicks,
    SUM(sum_position) / SUM(impressions) + 1 AS avg_position
  FROM searchconsole.searchdata_url_impression
  WHERE data_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 90 DAY)
    AND NOT is_anonymized_query
  GROUP BY query, url
),
shares AS (
  SELECT
    *,
    impressions / SUM(impressions) OVER (PARTITION BY query) AS impression_share,
    COUNT(*) OVER (PARTITION BY query) AS urls_for_query
  FROM q
)
SELECT
  query,
  ARRAY_AGG(STRUCT(url, impressions, clicks, ROUND(avg_position, 1) AS avg_position, ROUND(impression_share, 3) AS share)
            ORDER BY impressions DESC) AS competing_urls,
  SUM(impressions) AS total_impressions,
  SUM(clicks) AS total_clicks
FROM shares
WHERE impression_share >= 0.1
GROUP BY query
HAVING COUNT(*) >= 2 AND SUM(impressions) >= 1000
ORDER BY total_impressions DESC
