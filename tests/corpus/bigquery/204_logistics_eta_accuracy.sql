-- ETA accuracy of the delivery-window promise shown at checkout vs actual delivery.
-- Promised window is what the customer saw at checkout (carrier service level + buffer).
-- Only delivered parcels from the last 8 weeks are considered.
SELECT
  carrier_code,
  dest_country,
  DATE_TRUNC(DATE(created_at), WEEK) AS week_start,
  COUNT(*) AS delivered_parcels,
  COUNTIF(DATE(delivered_at) BETWEEN promised_window_start AND promised_window_end) AS within_window,
  COUNTIF(DATE(delivered_at) < promised_window_start) AS early,
  COUNTIF(DATE(delivered_at) > promised_window_end) AS late,
  ROUND(SAFE_DIVIDE(COUNTIF(DATE(delivered_at) BETWEEN promised_window_start AND promised_window_end), COUNT(*)), 4) AS window_accuracy,
  ROUND(AVG(DATE_DIFF(DATE(delivered_at), promised_window_end, DAY)), 2) AS avg_days_vs_window_end,
  ROUND(AVG(DATE_DIFF(promised_window_end, promised_window_start, DAY)), 2) AS avg_window_width_days
FROM `logi-analytics.ops.parcels`
WHERE delivered_at IS NOT NULL
  AND created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 56 DAY)
GROUP BY 1, 2, 3
HAVING delivered_parcels >= 100
ORDER BY week_start DESC, window_accuracy
