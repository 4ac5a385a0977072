-- Storage footprint per dataset, with long-term vs active bytes and time-travel overhead.
-- Used to pick candidates for partition expiration and physical billing.
SELECT
  table_schema AS dataset,
  COUNT(*) AS tables,
  ROUND(SUM(total_logical_bytes) / POW(1024, 3), 1) AS logical_gib,
  ROUND(SUM(active_logical_bytes) / POW(1024, 3), 1) AS active_logical_gib,
  ROUND(SUM(long_term_logical_bytes) / POW(1024, 3), 1) AS long_term_logical_gib,
  ROUND(SUM(total_physical_bytes) / POW(1024, 3), 1) AS physical_gib,
  ROUND(SUM(time_travel_physical_bytes) / POW(1024, 3), 1) AS time_travel_gib,
  ROUND(SUM(fail_safe_physical_bytes) / POW(1024, 3), 1) AS fail_safe_gib,
  ROUND(SAFE_DIVIDE(SUM(total_logical_bytes), SUM(total_physical_bytes)), 2) AS compression_ratio,
  -- rough monthly cost under each billing model (USD, multi-region US list prices)
  ROUND(SUM(active_logical_bytes) / POW(1024, 3) * 0.02 + SUM(long_term_logical_bytes) / POW(1024, 3) * 0.01, 2) AS est_logical_cost,
  ROUND(SUM(active_physical_bytes + time_travel_physical_bytes + fail_safe_physical_bytes) / POW(1024, 3) * 0.04
        + SUM(long_term_physical_bytes) / POW(1024, 3) * 0.02, 2) AS est_physical_cost,
  MAX(storage_last_modified_time) AS last_modified
FROM `region-us`.INFORMATION_SCHEMA.TABLE_STORAGE
WHERE NOT deleted
  AND table_schema NOT LIKE '\\_%'
GROUP BY dataset
ORDER BY logical_gib DESC
