-- Content engagement for blog articles: reads (scroll 90%), avg engagement time, and
-- share of readers who continue to a second article in the same session.
WITH pv AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS sid,
    TIMESTAMP_MICROS(event_timestamp) AS ts,
    event_name,
    REGEXP_EXTRACT((SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location'), r'/blog/([a-z0-9-]+)') AS slug,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'percent_scrolled') AS percent_scrolled,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'engagement_time_msec') AS engagement_msec
  FROM `acme-web-prod.analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240501' AND '20240531'
    AND event_name IN ('page_view', 'scroll', 'user_engagement')
),
articles AS (
  SELECT
    slug,
    user_pseudo_id,
    sid,
    MIN(IF(event_name = 'page_view', ts, NULL)) AS first_view_ts,
    MAX(IF(event_name = 'scroll', percent_scrolled, 0)) >= 90 AS read_through,
    SUM(IFNULL(engagement_msec, 0)) / 1000 AS engaged_s
  FROM pv
  WHERE slug IS NOT NULL
  GROUP BY slug, user_pseudo_id, sid
),
next_article AS (
  SELECT
    *,
    LEAD(slug) OVER (PARTITION BY user_pseudo_id, sid ORDER BY first_view_ts) AS next_slug
  FROM articles
)
SELECT
  slug,
  COUNT(*) AS article_sessions,
  COUNTIF(read_through) AS reads,
  ROUND(COUNTIF(read_through) / COUNT(*), 3) AS read_rate,
  ROUND(AVG(engaged_s), 1) AS avg_engaged_s,
  ROUND(COUNTIF(next_slug IS NOT NULL) / COUNT(*), 3) AS continued_reading_rate,
  APPROX_TOP_COUNT(next_slug, 3) AS top_next_articles
FROM next_article
GROUP BY slug
HAVING article_sessions >= 50
ORDER BY reads DESC
