-- GA4 site search: top search terms, searches per session and search exits.
WITH searches AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    event_timestamp,
    LOWER(TRIM((SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'search_term'))) AS search_term
  FROM `analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240601' AND '20240630'
    AND event_name = 'view_search_results'
),
last_events AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    MAX(event_timestamp) AS last_ts
  FROM `analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240601' AND '20240630'
  GROUP BY 1, 2
)
SELECT
  s.search_term,
  COUNT(*) AS searches,
  COUNT(DISTINCT CONCAT(s.user_pseudo_id, CAST(s.session_id AS STRING))) AS sessions,
  COUNTIF(s.event_timestamp = l.last_ts) AS search_exits,
  ROUND(SAFE_DIVIDE(COUNTIF(s.event_timestamp = l.last_ts), COUNT(*)), 4) AS search_exit_rate
FROM searches AS s
JOIN last_events AS l USING (user_pseudo_id, session_id)
WHERE s.search_term IS NOT NULL
GROUP BY s.search_term
ORDER BY searches DESC
LIMIT 250
