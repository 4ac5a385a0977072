-- Realtime-ish: last 60 minutes of activity from the intraday table, by page.
SELECT
  REGEXP_REPLACE(
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location'),
    r'\?.*$', ''
  ) AS page,
  COUNT(*) AS pageviews,
  COUNT(DISTINCT user_pseudo_id) AS users,
  COUNT(DISTINCT CONCAT(
    user_pseudo_id,
    CAST((SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS STRING)
  )) AS sessions,
  ARRAY_AGG(DISTINCT geo.country IGNORE NULLS LIMIT 5) AS countries,
  MAX(TIMESTAMP_MICROS(event_timestamp)) AS last_hit
FROM `acme-web-prod.analytics_287163540.events_intraday_*`
WHERE _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', CURRENT_DATE())
  AND event_name = 'page_view'
  AND TIMESTAMP_MICROS(event_timestamp) >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 60 MINUTE)
GROUP BY page
ORDER BY pageviews DESC
LIMIT 25
