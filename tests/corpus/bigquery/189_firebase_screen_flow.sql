-- App screen flow: next-screen transition matrix from screen_view events (Firebase).
WITH screens AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    event_timestamp,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'firebase_screen_class') AS screen_class,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'firebase_screen') AS screen_name
  FROM `ext-prod.analytics_153293282.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
    AND event_name = 'screen_view'
    AND app_info.version >= '5.0.0'
),
transitions AS (
  SELECT
    IFNULL(screen_name, screen_class) AS from_screen,
    IFNULL(LEAD(IFNULL(screen_name, screen_class)) OVER (PARTITION BY user_pseudo_id, session_id ORDER BY event_timestamp), '(exit)') AS to_screen
  FROM screens
)
SELECT
  from_screen,
  to_screen,
  COUNT(*) AS transitions,
  ROUND(COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY from_screen), 4) AS transition_probability
FROM transitions
WHERE from_screen != to_screen
GROUP BY from_screen, to_screen
QUALIFY ROW_NUMBER() OVER (PARTITION BY from_screen ORDER BY COUNT(*) DESC) <= 5
ORDER BY from_screen, transitions DESC
