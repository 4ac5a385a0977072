-- Smart-meter energy: daily kWh per site with peak/off-peak split (local time), weekdays vs weekends.
SELECT
  site_id,
  DATE(reading_ts, site_tz) AS local_date,
  EXTRACT(DAYOFWEEK FROM DATETIME(reading_ts, site_tz)) IN (1, 7) AS is_weekend,
  SUM(kwh) AS total_kwh,
  SUM(IF(EXTRACT(HOUR FROM DATETIME(reading_ts, site_tz)) BETWEEN 7 AND 22, kwh, 0)) AS peak_kwh,
  SUM(IF(EXTRACT(HOUR FROM DATETIME(reading_ts, site_tz)) NOT BETWEEN 7 AND 22, kwh, 0)) AS off_peak_kwh,
  MAX(kw_demand) AS max_demand_kw,
  ARRAY_AGG(STRUCT(reading_ts, kw_demand) ORDER BY kw_demand DESC LIMIT 1)[OFFSET(0)].reading_ts AS peak_demand_at,
  COUNT(*) AS intervals,
  COUNT(*) < 96 AS has_missing_intervals
FROM (
  SELECT
    r.site_id,
    r.reading_ts,
    s.timezone AS site_tz,
    r.kwh,
    r.kwh * 4 AS kw_demand   -- 15-minute intervals
  FROM energy.meter_readings_15m AS r
  JOIN registry.sites AS s USING (site_id)
  WHERE r.reading_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 32 DAY)
)
GROUP BY site_id, local_date, is_weekend
ORDER BY site_id, local_date
