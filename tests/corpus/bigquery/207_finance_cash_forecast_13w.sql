-- 13-week cash forecast: expected receipts (by customer payment behaviour) and scheduled payables.
WITH weeks AS (
  SELECT wk FROM UNNEST(GENERATE_DATE_ARRAY(DATE_TRUNC(CURRENT_DATE(), WEEK(MONDAY)), DATE_ADD(DATE_TRUNC(CURRENT_DATE(), WEEK(MONDAY)), INTERVAL 12 WEEK), INTERVAL 1 WEEK)) AS wk
),
customer_delay AS (
  SELECT customer_id, APPROX_QUANTILES(DATE_DIFF(paid_date, due_date, DAY), 2)[OFFSET(1)] AS median_days_late
  FROM billing.invoices
  WHERE paid_date IS NOT NULL AND paid_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 365 DAY)
  GROUP BY customer_id
),
receipts AS (
  SELECT
    DATE_TRUNC(DATE_ADD(i.due_date, INTERVAL GREATEST(IFNULL(d.median_days_late, 0), 0) DAY), WEEK(MONDAY)) AS wk,
    SUM(i.amount_due - i.amount_paid) AS expected_in
  FROM billing.invoices AS i
  LEFT JOIN customer_delay AS d USING (customer_id)
  WHERE i.status IN ('open', 'partially_paid')
  GROUP BY 1
),
payables AS (
  SELECT DATE_TRUNC(scheduled_payment_date, WEEK(MONDAY)) AS wk, SUM(amount) AS expected_out
  FROM ap.vendor_invoices
  WHERE status IN ('approved', 'scheduled')
  GROUP BY 1
)
SELECT
  w.wk,
  ROUND(IFNULL(r.expected_in, 0), 2) AS expected_receipts,
  ROUND(IFNULL(p.expected_out, 0), 2) AS expected_payments,
  ROUND(IFNULL(r.expected_in, 0) - IFNULL(p.expected_out, 0), 2) AS net_cash_flow,
  ROUND(SUM(IFNULL(r.expected_in, 0) - IFNULL(p.expected_out, 0)) OVER (ORDER BY w.wk), 2) AS cumulative_net_cash_flow
FROM weeks AS w
LEFT JOIN receipts AS r USING (wk)
LEFT JOIN payables AS p USING (wk)
ORDER BY w.wk
