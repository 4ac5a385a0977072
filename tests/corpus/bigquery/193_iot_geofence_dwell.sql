-- Asset tracker dwell time inside customer geofences (yards, docks), per visit.
WITH pings AS (
  SELECT
    t.asset_id,
    t.ping_ts,
    g.geofence_id,
    g.customer_id
  FROM `iot-platform-prod.trackers.asset_pings` AS t
  LEFT JOIN `iot-platform-prod.trackers.geofences` AS g
    ON ST_CONTAINS(g.polygon, ST_GEOGPOINT(t.lng, t.lat))
  WHERE t.ping_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 14 DAY)
),
marked AS (
  SELECT
    *,
    IF(geofence_id IS DISTINCT FROM LAG(geofence_id) OVER (PARTITION BY asset_id ORDER BY ping_ts), 1, 0) AS changed
  FROM pings
),
visits AS (
  SELECT
    *,
    SUM(changed) OVER (PARTITION BY asset_id ORDER BY ping_ts ROWS UNBOUNDED PRECEDING) AS visit_seq
  FROM marked
)
SELECT
  asset_id,
  geofence_id,
  ANY_VALUE(customer_id) AS customer_id,
  MIN(ping_ts) AS entered_at,
  MAX(ping_ts) AS last_seen_inside,
  TIMESTAMP_DIFF(MAX(ping_ts), MIN(ping_ts), MINUTE) AS dwell_minutes,
  COUNT(*) AS pings
FROM visits
WHERE geofence_id IS NOT NULL
GROUP BY asset_id, geofence_id, visit_seq
HAVING dwell_minutes >= 10
ORDER BY dwell_minutes DESC
