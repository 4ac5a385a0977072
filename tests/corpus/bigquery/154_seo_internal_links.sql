-- Orphan and weakly linked pages from the site crawl, with their organic impressions.
WITH inlinks AS (
  SELECT
    target_url,
    COUNT(DISTINCT source_url) AS inlinking_pages,
    COUNTIF(link_position = 'nav') AS nav_links,
    COUNTIF(link_position = 'body') AS body_links
  FROM `seo-data.crawl.internal_links`
  WHERE crawl_id = (SELECT MAX(crawl_id) FROM `seo-data.crawl.crawls` WHERE status = 'complete')
    AND NOT is_nofollow
  GROUP BY target_url
),
gsc AS (
  SELECT url, SUM(impressions) AS impressions_28d, SUM(clicks) AS clicks_28d
  FROM `seo-data.searchconsole.searchdata_url_impression`
  WHERE data_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
  GROUP BY url
)
SELECT
  p.url,
  p.status_code,
  p.indexable,
  p.depth,
  IFNULL(i.inlinking_pages, 0) AS inlinking_pages,
  IFNULL(i.body_links, 0) AS body_links,
  IFNULL(g.impressions_28d, 0) AS impressions_28d,
  IFNULL(g.clicks_28d, 0) AS clicks_28d,
  CASE
    WHEN i.target_url IS NULL THEN 'orphan'
    WHEN i.inlinking_pages < 3 THEN 'weak'
    ELSE 'ok'
  END AS link_status
FROM `seo-data.crawl.pages` AS p
LEFT JOIN inlinks AS i ON i.target_url = p.url
LEFT JOIN gsc AS g ON g.url = p.url
WHERE p.crawl_id = (SELECT MAX(crawl_id) FROM `seo-data.crawl.crawls` WHERE status = 'complete')
  AND p.indexable
  AND (i.target_url IS NULL OR i.inlinking_pages < 3)
ORDER BY impressions_28d DESC
