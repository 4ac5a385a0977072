-- Sessionize raw server-side events with a 30-minute inactivity timeout.
WITH ordered AS (
  SELECT
    anonymous_id,
    event_ts,
    event_type,
    page_path,
    IF(
      TIMESTAMP_DIFF(event_ts, LAG(event_ts) OVER (PARTITION BY anonymous_id ORDER BY event_ts), MINUTE) >= 30
        OR LAG(event_ts) OVER (PARTITION BY anonymous_id ORDER BY event_ts) IS NULL,
      1, 0
    ) AS is_new_session
  FROM `web-raw-prod.clickstream.events`
  WHERE DATE(event_ts) = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
),
numbered AS (
  SELECT
    *,
    SUM(is_new_session) OVER (PARTITION BY anonymous_id ORDER BY event_ts ROWS UNBOUNDED PRECEDING) AS session_seq
  FROM ordered
)
SELECT
  anonymous_id,
  session_seq,
  TO_HEX(MD5(CONCAT(anonymous_id, '#', CAST(session_seq AS STRING)))) AS session_id,
  MIN(event_ts) AS session_start,
  MAX(event_ts) AS session_end,
  COUNT(*) AS events,
  ARRAY_AGG(page_path IGNORE NULLS ORDER BY event_ts LIMIT 1)[SAFE_OFFSET(0)] AS landing_path,
  ARRAY_AGG(page_path IGNORE NULLS ORDER BY event_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS exit_path
FROM numbered
GROUP BY anonymous_id, session_seq
