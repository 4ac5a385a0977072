-- Cheap daily estimates from a 5% block sample: approximate uniques via HLL sketches per
-- country, merged across the week. Sample-based counts are scaled by 20.
WITH sampled AS (
  SELECT
    DATE(event_ts) AS d,
    country,
    anonymous_id,
    event_type,
    * EXCEPT (event_ts, country, anonymous_id, event_type, properties)
      REPLACE (LOWER(page_path) AS page_path)
  FROM `web-raw-prod.clickstream.events` TABLESAMPLE SYSTEM (5 PERCENT)
  WHERE DATE(event_ts) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
),
daily AS (
  SELECT
    d,
    country,
    HLL_COUNT.INIT(anonymous_id) AS visitors_sketch,
    COUNT(*) * 20 AS est_events,
    COUNTIF(event_type = 'page_view') * 20 AS est_pageviews
  FROM sampled
  GROUP BY d, country
)
SELECT
  country,
  HLL_COUNT.MERGE(visitors_sketch) AS weekly_visitors_in_sample,
  SUM(est_events) AS est_events_7d,
  SUM(est_pageviews) AS est_pageviews_7d,
  HLL_COUNT.EXTRACT(HLL_COUNT.MERGE_PARTIAL(visitors_sketch)) AS weekly_visitors_check
FROM daily
GROUP BY country
ORDER BY est_events_7d DESC
