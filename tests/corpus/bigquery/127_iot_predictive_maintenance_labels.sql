-- Label each machine-hour with "failure within next 48 hours" for the maintenance model.
WITH hours AS (
  SELECT
    machine_id,
    TIMESTAMP_TRUNC(reading_ts, HOUR) AS hour_ts,
    AVG(temperature_c) AS avg_temp,
    MAX(temperature_c) AS max_temp,
    AVG(vibration_rms) AS avg_vibration,
    STDDEV(vibration_rms) AS sd_vibration,
    AVG(current_amps) AS avg_current,
    COUNT(*) AS readings
  FROM factory.machine_readings
  WHERE reading_ts >= TIMESTAMP '2024-01-01'
  GROUP BY machine_id, hour_ts
),
failures AS (
  SELECT machine_id, failure_ts, failure_mode
  FROM factory.maintenance_log
  WHERE event_type = 'unplanned_failure'
)
SELECT
  h.*,
  AVG(h.avg_vibration) OVER w24 AS vibration_24h_avg,
  MAX(h.max_temp) OVER w24 AS max_temp_24h,
  h.avg_vibration - AVG(h.avg_vibration) OVER w168 AS vibration_vs_week,
  EXISTS (
    SELECT 1 FROM failures AS f
    WHERE f.machine_id = h.machine_id
      AND f.failure_ts > h.hour_ts
      AND f.failure_ts <= TIMESTAMP_ADD(h.hour_ts, INTERVAL 48 HOUR)
  ) AS label_fail_48h
FROM hours AS h
WINDOW
  w24 AS (PARTITION BY h.machine_id ORDER BY UNIX_SECONDS(h.hour_ts) RANGE BETWEEN 86399 PRECEDING AND CURRENT ROW),
  w168 AS (PARTITION BY h.machine_id ORDER BY UNIX_SECONDS(h.hour_ts) RANGE BETWEEN 604799 PRECEDING AND CURRENT ROW)
