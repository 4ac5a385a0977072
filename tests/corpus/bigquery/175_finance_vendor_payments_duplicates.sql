-- Accounts payable: potential duplicate vendor invoices (same vendor, amount, date within 7 days,
-- similar invoice numbers after stripping punctuation).
WITH inv AS (
  SELECT
    invoice_id,
    vendor_id,
    invoice_number,
    REGEXP_REPLACE(UPPER(invoice_number), r'[^A-Z0-9]', '') AS invoice_number_norm,
    invoice_date,
    ROUND(amount, 2) AS amount,
    currency,
    status
  FROM fin-core-prod.ap.vendor_invoices
  WHERE invoice_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 365 DAY)
    AND status != 'void'
)
SELECT
  a.vendor_id,
  a.invoice_id AS invoice_a,
  b.invoice_id AS invoice_b,
  a.invoice_number AS number_a,
  b.invoice_number AS number_b,
  a.amount,
  a.currency,
  a.invoice_date AS date_a,
  b.invoice_date AS date_b,
  a.invoice_number_norm = b.invoice_number_norm AS same_normalised_number,
  EDIT_DISTANCE(a.invoice_number_norm, b.invoice_number_norm) AS number_edit_distance,
  a.status AS status_a,
  b.status AS status_b
FROM inv AS a
JOIN inv AS b
  ON b.vendor_id = a.vendor_id
 AND b.amount = a.amount
 AND b.currency = a.currency
 AND b.invoice_id > a.invoice_id
 AND ABS(DATE_DIFF(b.invoice_date, a.invoice_date, DAY)) <= 7
WHERE a.invoice_number_norm = b.invoice_number_norm
   OR EDIT_DISTANCE(a.invoice_number_norm, b.invoice_number_norm) <= 2
ORDER BY a.amount DESC
