-- Picker productivity per shift: units per hour, travel distance, error rate.
SELECT
  p.warehouse_code,
  p.picker_id,
  DATE(p.pick_ts, 'Europe/Amsterdam') AS shift_date,
  CASE
    WHEN EXTRACT(HOUR FROM DATETIME(p.pick_ts, 'Europe/Amsterdam')) BETWEEN 6 AND 13 THEN 'early'
    WHEN EXTRACT(HOUR FROM DATETIME(p.pick_ts, 'Europe/Amsterdam')) BETWEEN 14 AND 21 THEN 'late'
    ELSE 'night'
  END AS shift,
  COUNT(*) AS picks,
  SUM(p.quantity) AS units,
  ROUND(SUM(p.quantity) / NULLIF(TIMESTAMP_DIFF(MAX(p.pick_ts), MIN(p.pick_ts), SECOND) / 3600, 0), 1) AS units_per_hour,
  COUNTIF(p.is_short_pick) AS short_picks,
  COUNTIF(p.scanned_sku != p.expected_sku) AS wrong_item_scans,
  ROUND(SAFE_DIVIDE(COUNTIF(p.scanned_sku != p.expected_sku), COUNT(*)) * 100, 2) AS error_rate_pct,
  COUNT(DISTINCT p.pick_list_id) AS pick_lists,
  COUNT(DISTINCT p.bin_location) AS bins_visited
FROM operations.pick_events AS p
WHERE p.pick_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
GROUP BY 1, 2, 3, 4
HAVING picks >= 20
ORDER BY shift_date DESC, units_per_hour DESC
