-- Accounts receivable ageing buckets as of the last month end.
WITH as_of AS (
  SELECT LAST_DAY(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH)) AS d
),
open_invoices AS (
  SELECT
    i.customer_id,
    i.invoice_id,
    i.currency,
    i.due_date,
    i.amount_due - IFNULL((
      SELECT SUM(p.amount)
      FROM `fin-core-prod.billing.payments_applied` AS p
      WHERE p.invoice_id = i.invoice_id
        AND p.applied_date <= (SELECT d FROM as_of)
    ), 0) AS open_amount
  FROM `fin-core-prod.billing.invoices` AS i
  WHERE i.issued_date <= (SELECT d FROM as_of)
    AND i.status != 'void'
)
SELECT
  o.customer_id,
  o.currency,
  SUM(IF(DATE_DIFF(a.d, o.due_date, DAY) <= 0, o.open_amount, 0)) AS current_amt,
  SUM(IF(DATE_DIFF(a.d, o.due_date, DAY) BETWEEN 1 AND 30, o.open_amount, 0)) AS d1_30,
  SUM(IF(DATE_DIFF(a.d, o.due_date, DAY) BETWEEN 31 AND 60, o.open_amount, 0)) AS d31_60,
  SUM(IF(DATE_DIFF(a.d, o.due_date, DAY) BETWEEN 61 AND 90, o.open_amount, 0)) AS d61_90,
  SUM(IF(DATE_DIFF(a.d, o.due_date, DAY) > 90, o.open_amount, 0)) AS d90_plus,
  SUM(o.open_amount) AS total_open
FROM open_invoices AS o
CROSS JOIN as_of AS a
WHERE o.open_amount > 0.005
GROUP BY o.customer_id, o.currency
ORDER BY d90_plus DESC, total_open DESC
