-- Refund abuse: customers with high refund-to-purchase ratios across merchants.
SELECT
  c.customer_id,
  COUNT(DISTINCT c.capture_id) AS purchases_180d,
  COUNT(DISTINCT r.refund_id) AS refunds_180d,
  ROUND(SUM(c.amount_minor) / 100, 2) AS purchased_amount,
  ROUND(SUM(IFNULL(r.amount_minor, 0)) / 100, 2) AS refunded_amount,
  ROUND(SAFE_DIVIDE(SUM(IFNULL(r.amount_minor, 0)), SUM(c.amount_minor)), 4) AS refund_ratio,
  COUNT(DISTINCT c.merchant_id) AS merchants,
  COUNT(DISTINCT IF(r.refund_id IS NOT NULL, c.merchant_id, NULL)) AS merchants_refunded,
  APPROX_TOP_COUNT(r.reason, 3) AS top_refund_reasons,
  COUNTIF(r.reason = 'item_not_received') AS inr_claims
FROM `pay-risk-prod.core.captures` AS c
LEFT JOIN `pay-risk-prod.core.refunds` AS r
  ON r.capture_id = c.capture_id
WHERE c.captured_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)
GROUP BY c.customer_id
HAVING purchases_180d >= 5
   AND refund_ratio >= 0.5
ORDER BY refunded_amount DESC
LIMIT 1000
