-- Firmware rollout health: error rate and reboot rate before/after upgrade per firmware version.
WITH upgrades AS (
  SELECT device_id, to_version, upgraded_at
  FROM `iot-platform-prod.registry.firmware_upgrades`
  WHERE upgraded_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
    AND status = 'success'
),
events AS (
  SELECT device_id, event_ts, event_type
  FROM `iot-platform-prod.ingest.device_events`
  WHERE event_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 37 DAY)
    AND event_type IN ('error', 'reboot', 'watchdog_reset')
)
SELECT
  u.to_version,
  COUNT(DISTINCT u.device_id) AS upgraded_devices,
  ROUND(SAFE_DIVIDE(COUNTIF(e.event_type = 'error' AND e.event_ts < u.upgraded_at), COUNT(DISTINCT u.device_id)) / 7, 3) AS errors_per_device_day_before,
  ROUND(SAFE_DIVIDE(COUNTIF(e.event_type = 'error' AND e.event_ts >= u.upgraded_at), COUNT(DISTINCT u.device_id)) / 7, 3) AS errors_per_device_day_after,
  ROUND(SAFE_DIVIDE(COUNTIF(e.event_type IN ('reboot', 'watchdog_reset') AND e.event_ts < u.upgraded_at), COUNT(DISTINCT u.device_id)) / 7, 3) AS reboots_per_device_day_before,
  ROUND(SAFE_DIVIDE(COUNTIF(e.event_type IN ('reboot', 'watchdog_reset') AND e.event_ts >= u.upgraded_at), COUNT(DISTINCT u.device_id)) / 7, 3) AS reboots_per_device_day_after
FROM upgrades AS u
LEFT JOIN events AS e
  ON e.device_id = u.device_id
 AND e.event_ts BETWEEN TIMESTAMP_SUB(u.upgraded_at, INTERVAL 7 DAY) AND TIMESTAMP_ADD(u.upgraded_at, INTERVAL 7 DAY)
GROUP BY u.to_version
HAVING upgraded_devices >= 50
ORDER BY u.to_version DESC
