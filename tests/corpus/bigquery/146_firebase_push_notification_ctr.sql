-- Push notification funnel from Firebase: received -> opened -> conversion within 24h.
WITH notif AS (
  SELECT
    user_pseudo_id,
    event_name,
    TIMESTAMP_MICROS(event_timestamp) AS ts,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'message_name') AS message_name,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'message_id') AS message_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'message_time') AS message_time,
    platform
  FROM `ext-prod.analytics_153293282.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240601' AND '20240630'
    AND event_name IN ('notification_receive', 'notification_open', 'notification_dismiss')
),
conversions AS (
  SELECT user_pseudo_id, TIMESTAMP_MICROS(event_timestamp) AS ts
  FROM `ext-prod.analytics_153293282.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240601' AND '20240701'
    AND event_name = 'workout_completed'
)
SELECT
  n.message_name,
  n.platform,
  COUNTIF(n.event_name = 'notification_receive') AS received,
  COUNTIF(n.event_name = 'notification_open') AS opened,
  COUNTIF(n.event_name = 'notification_dismiss') AS dismissed,
  ROUND(SAFE_DIVIDE(COUNTIF(n.event_name = 'notification_open'), COUNTIF(n.event_name = 'notification_receive')), 4) AS open_rate,
  COUNT(DISTINCT IF(n.event_name = 'notification_open' AND EXISTS (
    SELECT 1 FROM conversions AS c
    WHERE c.user_pseudo_id = n.user_pseudo_id
      AND c.ts BETWEEN n.ts AND TIMESTAMP_ADD(n.ts, INTERVAL 24 HOUR)
  ), n.user_pseudo_id, NULL)) AS converted_openers
FROM notif AS n
GROUP BY n.message_name, n.platform
ORDER BY received DESC
