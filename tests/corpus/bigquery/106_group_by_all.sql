-- Weekly active devices by OS and app version (GROUP BY ALL).
-- GROUP BY ALL groups by every non-aggregated select expression, which keeps this
-- query easy to extend with more dimensions.
SELECT
  DATE_TRUNC(activity_date, WEEK(MONDAY)) AS week_start,
  os_name,
  REGEXP_EXTRACT(app_version, r'^(\d+\.\d+)') AS app_minor_version,
  IF(is_tablet, 'tablet', 'phone') AS form_factor,
  COUNT(DISTINCT device_id) AS active_devices,
  COUNT(DISTINCT IF(is_new_device, device_id, NULL)) AS new_devices,
  COUNT(DISTINCT IF(crash_count > 0, device_id, NULL)) AS devices_with_crash,
  ROUND(SAFE_DIVIDE(
    COUNT(DISTINCT IF(crash_count > 0, device_id, NULL)),
    COUNT(DISTINCT device_id)
  ), 4) AS crash_device_share,
  SUM(session_count) AS sessions
FROM `mobile-subs-prod.marts.device_activity_daily`
WHERE activity_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 12 WEEK)
GROUP BY ALL
HAVING active_devices >= 100
ORDER BY week_start DESC, active_devices DESC
