-- Hourly wide table of sensor metrics per building (PIVOT on metric name).
-- Output columns are named <agg alias>_<metric>, e.g. avg_co2_ppm, max_power_kw.
SELECT *
FROM (
  SELECT
    building_id,
    TIMESTAMP_TRUNC(reading_ts, HOUR) AS hour_ts,
    metric_name,
    value
  FROM `iot-platform-prod.buildings.sensor_readings`
  WHERE reading_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 DAY)
    AND metric_name IN ('co2_ppm', 'temp_c', 'humidity_pct', 'occupancy', 'power_kw')
)
PIVOT (
  AVG(value) AS avg,
  MAX(value) AS max
  FOR metric_name IN ('co2_ppm', 'temp_c', 'humidity_pct', 'occupancy', 'power_kw')
)
WHERE avg_co2_ppm IS NOT NULL
ORDER BY building_id, hour_ts
