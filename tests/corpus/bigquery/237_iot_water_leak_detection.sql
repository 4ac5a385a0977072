# Smart water meters: continuous-flow leak detection.
# A household has a probable leak when flow never drops to zero for 24 consecutive hours
# (minimum hourly flow > 0), or when night-time (02:00-05:00 local) flow exceeds 10 L/h.
WITH hourly AS (
  SELECT
    r.meter_id,
    m.household_id,
    m.timezone,
    TIMESTAMP_TRUNC(r.reading_ts, HOUR) AS hour_ts,
    SUM(r.litres) AS litres,
    MIN(r.flow_lpm) AS min_flow_lpm
  FROM iot_water.meter_readings AS r
  JOIN iot_water.meters AS m USING (meter_id)
  WHERE r.reading_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
  GROUP BY r.meter_id, m.household_id, m.timezone, hour_ts
),

flagged AS (
  SELECT
    *,
    EXTRACT(HOUR FROM hour_ts AT TIME ZONE timezone) AS local_hour,
    MIN(litres) OVER (
      PARTITION BY meter_id
      ORDER BY UNIX_SECONDS(hour_ts)
      RANGE BETWEEN 82800 PRECEDING AND CURRENT ROW
    ) AS min_hourly_litres_24h,
    COUNT(*) OVER (
      PARTITION BY meter_id
      ORDER BY UNIX_SECONDS(hour_ts)
      RANGE BETWEEN 82800 PRECEDING AND CURRENT ROW
    ) AS hours_in_window
  FROM hourly
)

SELECT
  meter_id,
  household_id,
  MAX(IF(hours_in_window = 24 AND min_hourly_litres_24h > 0, hour_ts, NULL)) AS continuous_flow_detected_at,
  MAX(IF(hours_in_window = 24, min_hourly_litres_24h, NULL)) AS max_baseline_litres_per_hour,
  AVG(IF(local_hour BETWEEN 2 AND 4, litres, NULL)) AS avg_night_litres_per_hour,
  SUM(litres) AS litres_7d,
  ROUND(MAX(IF(hours_in_window = 24, min_hourly_litres_24h, 0)) * 24 * 7, 0) AS est_leak_litres_per_week,
  CASE
    WHEN LOGICAL_OR(hours_in_window = 24 AND min_hourly_litres_24h > 5) THEN 'probable_leak'
    WHEN AVG(IF(local_hour BETWEEN 2 AND 4, litres, NULL)) > 10 THEN 'night_flow'
    WHEN LOGICAL_OR(hours_in_window = 24 AND min_hourly_litres_24h > 0) THEN 'possible_drip'
    ELSE 'ok'
  END AS leak_status
FROM flagged
GROUP BY meter_id, household_id
HAVING leak_status != 'ok'
ORDER BY est_leak_litres_per_week DESC
