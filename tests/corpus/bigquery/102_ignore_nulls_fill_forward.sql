-- Forward-fill sparse sensor configuration values onto every reading (LAST_VALUE IGNORE NULLS).
SELECT
  device_id,
  reading_ts,
  value,
  LAST_VALUE(calibration_offset IGNORE NULLS) OVER w AS calibration_offset,
  LAST_VALUE(firmware IGNORE NULLS) OVER w AS firmware,
  LAST_VALUE(location_id IGNORE NULLS) OVER w AS location_id,
  value + IFNULL(LAST_VALUE(calibration_offset IGNORE NULLS) OVER w, 0) AS calibrated_value,
  FIRST_VALUE(reading_ts IGNORE NULLS) OVER (PARTITION BY device_id ORDER BY reading_ts) AS first_reading_ts
FROM (
  SELECT device_id, reading_ts, value, NULL AS calibration_offset, NULL AS firmware, NULL AS location_id
  FROM ingest.readings_flat
  WHERE DATE(reading_ts) = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  UNION ALL
  SELECT device_id, changed_at, NULL, calibration_offset, firmware, location_id
  FROM registry.device_config_changes
  WHERE changed_at < TIMESTAMP(CURRENT_DATE())
)
WHERE TRUE
QUALIFY value IS NOT NULL
WINDOW w AS (PARTITION BY device_id ORDER BY reading_ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
