-- Deferred revenue schedule: spread annual/multi-month invoice lines ratably per day,
-- then roll up recognised revenue per month and the closing deferred balance.
WITH lines AS (
  SELECT
    invoice_line_id,
    customer_id,
    product_code,
    CAST(amount AS NUMERIC) AS amount,
    service_start_date,
    service_end_date,
    DATE_DIFF(service_end_date, service_start_date, DAY) + 1 AS service_days
  FROM `fin-core-prod.billing.invoice_lines`
  WHERE invoice_status = 'posted'
    AND service_end_date >= DATE '2023-01-01'
    AND amount != 0
),
daily AS (
  SELECT
    l.invoice_line_id,
    l.product_code,
    d AS revenue_date,
    l.amount / l.service_days AS daily_amount
  FROM lines AS l,
  UNNEST(GENERATE_DATE_ARRAY(l.service_start_date, l.service_end_date)) AS d
),
monthly AS (
  SELECT
    DATE_TRUNC(revenue_date, MONTH) AS revenue_month,
    product_code,
    ROUND(SUM(daily_amount), 2) AS recognised
  FROM daily
  GROUP BY 1, 2
),
billed AS (
  SELECT
    DATE_TRUNC(service_start_date, MONTH) AS revenue_month,
    product_code,
    SUM(amount) AS billed
  FROM lines
  GROUP BY 1, 2
)
SELECT
  m.revenue_month,
  m.product_code,
  IFNULL(b.billed, 0) AS billed,
  m.recognised,
  SUM(IFNULL(b.billed, 0) - m.recognised) OVER (PARTITION BY m.product_code ORDER BY m.revenue_month) AS deferred_balance_eom
FROM monthly AS m
LEFT JOIN billed AS b USING (revenue_month, product_code)
WHERE m.revenue_month <= DATE_TRUNC(DATE_ADD(CURRENT_DATE(), INTERVAL 12 MONTH), MONTH)
ORDER BY m.product_code, m.revenue_month
