-- Monthly dispute (chargeback) rate per merchant vs network thresholds.
WITH sales AS (
  SELECT
    merchant_id,
    DATE_TRUNC(DATE(captured_at), MONTH) AS month,
    card_network,
    COUNT(*) AS sales_count,
    SUM(amount_minor) / 100 AS sales_volume
  FROM core.captures
  WHERE captured_at >= TIMESTAMP(DATE_SUB(DATE_TRUNC(CURRENT_DATE(), MONTH), INTERVAL 6 MONTH))
  GROUP BY 1, 2, 3
),
disputes AS (
  SELECT
    merchant_id,
    DATE_TRUNC(DATE(received_at), MONTH) AS month,
    card_network,
    COUNT(*) AS dispute_count,
    SUM(amount_minor) / 100 AS dispute_volume
  FROM disputes.chargebacks
  WHERE received_at >= TIMESTAMP(DATE_SUB(DATE_TRUNC(CURRENT_DATE(), MONTH), INTERVAL 6 MONTH))
  GROUP BY 1, 2, 3
)
SELECT
  s.merchant_id,
  s.month,
  s.card_network,
  s.sales_count,
  IFNULL(d.dispute_count, 0) AS dispute_count,
  ROUND(SAFE_DIVIDE(IFNULL(d.dispute_count, 0), s.sales_count) * 100, 3) AS dispute_rate_pct,
  CASE s.card_network
    WHEN 'visa' THEN SAFE_DIVIDE(IFNULL(d.dispute_count, 0), s.sales_count) >= 0.009 AND IFNULL(d.dispute_count, 0) >= 100
    WHEN 'mastercard' THEN SAFE_DIVIDE(IFNULL(d.dispute_count, 0), s.sales_count) >= 0.015 AND IFNULL(d.dispute_count, 0) >= 100
    ELSE FALSE
  END AS above_program_threshold
FROM sales AS s
LEFT JOIN disputes AS d USING (merchant_id, month, card_network)
ORDER BY dispute_rate_pct DESC
