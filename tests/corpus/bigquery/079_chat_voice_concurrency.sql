-- Peak concurrent voice users per region per hour using an event sweep.
WITH deltas AS (
  SELECT region, joined_at AS ts, 1 AS delta
  FROM `chatco-dw.voice.voice_sessions`
  WHERE joined_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
  UNION ALL
  SELECT region, left_at AS ts, -1 AS delta
  FROM `chatco-dw.voice.voice_sessions`
  WHERE joined_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
    AND left_at IS NOT NULL
),
running AS (
  SELECT
    region,
    ts,
    SUM(delta) OVER (PARTITION BY region ORDER BY ts, delta DESC ROWS UNBOUNDED PRECEDING) AS concurrent
  FROM deltas
)
SELECT
  region,
  TIMESTAMP_TRUNC(ts, HOUR) AS hour,
  MAX(concurrent) AS peak_concurrent,
  ROUND(AVG(concurrent), 1) AS avg_concurrent_at_events
FROM running
GROUP BY region, hour
ORDER BY region, hour
