-- Hourly sortation hub throughput vs. capacity, with backlog estimate.
WITH scans AS (
  SELECT
    facility_id,
    TIMESTAMP_TRUNC(event_ts, HOUR) AS hour_ts,
    COUNTIF(event_code = 'ARRIVED_HUB') AS inbound,
    COUNTIF(event_code = 'DEPARTED_HUB') AS outbound
  FROM ops.carrier_scan_events
  WHERE event_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
    AND event_code IN ('ARRIVED_HUB', 'DEPARTED_HUB')
  GROUP BY 1, 2
)
SELECT
  s.facility_id,
  f.facility_name,
  s.hour_ts,
  s.inbound,
  s.outbound,
  f.hourly_sort_capacity,
  ROUND(SAFE_DIVIDE(s.outbound, f.hourly_sort_capacity), 3) AS capacity_utilisation,
  SUM(s.inbound - s.outbound) OVER (PARTITION BY s.facility_id ORDER BY s.hour_ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative_backlog,
  ROUND(SAFE_DIVIDE(
    SUM(s.inbound - s.outbound) OVER (PARTITION BY s.facility_id ORDER BY s.hour_ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
    f.hourly_sort_capacity
  ), 1) AS backlog_hours
FROM scans AS s
JOIN reference.facilities AS f USING (facility_id)
ORDER BY s.facility_id, s.hour_ts
