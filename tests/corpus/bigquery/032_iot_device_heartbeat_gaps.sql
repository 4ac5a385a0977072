-- Devices that went silent: gaps between heartbeats longer than 3x expected interval.
WITH hb AS (
  SELECT
    device_id,
    heartbeat_at,
    LEAD(heartbeat_at) OVER (PARTITION BY device_id ORDER BY heartbeat_at) AS next_heartbeat_at,
    expected_interval_s
  FROM ingest.heartbeats
  WHERE heartbeat_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 DAY)
)
SELECT
  device_id,
  heartbeat_at AS gap_start,
  IFNULL(next_heartbeat_at, CURRENT_TIMESTAMP()) AS gap_end,
  TIMESTAMP_DIFF(IFNULL(next_heartbeat_at, CURRENT_TIMESTAMP()), heartbeat_at, SECOND) AS gap_seconds,
  expected_interval_s,
  next_heartbeat_at IS NULL AS still_offline
FROM hb
WHERE TIMESTAMP_DIFF(IFNULL(next_heartbeat_at, CURRENT_TIMESTAMP()), heartbeat_at, SECOND) > 3 * expected_interval_s
ORDER BY gap_seconds DESC
LIMIT 1000
