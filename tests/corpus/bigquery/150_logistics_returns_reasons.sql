-- Returns analysis: return rate and top reasons per category and size (apparel).
-- Apparel only; returns window is 30 days, so we look at lines delivered 30-120 days ago.
SELECT
  p.category,
  li.size_label,
  COUNT(DISTINCT li.order_line_id) AS lines_sold,
  COUNT(DISTINCT r.return_line_id) AS lines_returned,
  ROUND(SAFE_DIVIDE(COUNT(DISTINCT r.return_line_id), COUNT(DISTINCT li.order_line_id)) * 100, 2) AS return_rate_pct,
  APPROX_TOP_COUNT(r.reason_code, 3) AS top_reasons,
  ROUND(AVG(DATE_DIFF(DATE(r.received_at), DATE(li.delivered_at), DAY)), 1) AS avg_days_to_return,
  COUNTIF(r.condition_grade IN ('C', 'D')) AS damaged_returns
FROM commerce.order_lines AS li
JOIN catalog.products AS p USING (product_id)
LEFT JOIN returns.return_lines AS r
  ON r.order_line_id = li.order_line_id
WHERE li.delivered_at BETWEEN TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 120 DAY) AND TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
  AND p.department = 'apparel'
GROUP BY p.category, li.size_label
HAVING lines_sold >= 200
ORDER BY p.category, return_rate_pct DESC
