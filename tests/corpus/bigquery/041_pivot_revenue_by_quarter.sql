-- Revenue by product line, pivoted into quarter columns for the board pack.
WITH base AS (
  SELECT
    product_line,
    region,
    CONCAT('Q', CAST(EXTRACT(QUARTER FROM invoice_date) AS STRING)) AS quarter,
    amount_usd
  FROM `fin-core-prod.marts.invoice_lines`
  WHERE EXTRACT(YEAR FROM invoice_date) = 2024
    AND invoice_status = 'posted'
)
SELECT
  product_line,
  region,
  IFNULL(Q1, 0) AS q1_revenue,
  IFNULL(Q2, 0) AS q2_revenue,
  IFNULL(Q3, 0) AS q3_revenue,
  IFNULL(Q4, 0) AS q4_revenue,
  IFNULL(Q1, 0) + IFNULL(Q2, 0) + IFNULL(Q3, 0) + IFNULL(Q4, 0) AS fy_revenue,
  SAFE_DIVIDE(IFNULL(Q4, 0) - IFNULL(Q3, 0), Q3) AS q4_over_q3
FROM base
PIVOT (
  SUM(amount_usd)
  FOR quarter IN ('Q1', 'Q2', 'Q3', 'Q4')
)
ORDER BY fy_revenue DESC
