-- Reconcile PSP settlement reports against internal ledger, per payout and per transaction.
-- Differences are categorised so finance ops can work the exceptions queue.

WITH settlement_lines AS (
  SELECT
    psp,
    payout_id,
    DATE(payout_date) AS payout_date,
    psp_reference,
    merchant_reference,
    line_type,
    UPPER(currency) AS currency,
    CAST(gross_amount AS NUMERIC) AS gross_amount,
    CAST(fee_amount AS NUMERIC) AS fee_amount,
    CAST(net_amount AS NUMERIC) AS net_amount,
    _file_name AS source_file
  FROM `fin-core-prod.psp_reports.settlement_lines`
  WHERE DATE(payout_date) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 45 DAY) AND CURRENT_DATE()
),

ledger AS (
  SELECT
    je.entry_id,
    je.psp_reference,
    je.order_id,
    je.entry_type,
    UPPER(je.currency) AS currency,
    SUM(IF(je.direction = 'credit', je.amount, -je.amount)) AS ledger_amount,
    MIN(je.posted_at) AS posted_at
  FROM `fin-core-prod.ledger.journal_entries` AS je
  WHERE je.account_code IN ('1130', '1131', '4010', '6120')
    AND DATE(je.posted_at) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 75 DAY) AND CURRENT_DATE()
  GROUP BY je.entry_id, je.psp_reference, je.order_id, je.entry_type, currency
),

ledger_by_ref AS (
  SELECT
    psp_reference,
    currency,
    SUM(IF(entry_type IN ('capture', 'sale'), ledger_amount, 0)) AS ledger_gross,
    SUM(IF(entry_type = 'refund', ledger_amount, 0)) AS ledger_refunds,
    SUM(IF(entry_type = 'psp_fee', ledger_amount, 0)) AS ledger_fees,
    SUM(IF(entry_type = 'chargeback', ledger_amount, 0)) AS ledger_chargebacks,
    ARRAY_AGG(DISTINCT order_id IGNORE NULLS) AS order_ids,
    MIN(posted_at) AS first_posted_at
  FROM ledger
  GROUP BY psp_reference, currency
),

settlement_by_ref AS (
  SELECT
    psp,
    payout_id,
    payout_date,
    psp_reference,
    currency,
    SUM(IF(line_type IN ('Settled', 'SettledBulk', 'charge'), gross_amount, 0)) AS psp_gross,
    SUM(IF(line_type IN ('Refunded', 'refund'), -ABS(gross_amount), 0)) AS psp_refunds,
    SUM(-ABS(fee_amount)) AS psp_fees,
    SUM(IF(line_type IN ('Chargeback', 'dispute'), -ABS(gross_amount), 0)) AS psp_chargebacks,
    SUM(net_amount) AS psp_net,
    ANY_VALUE(source_file) AS source_file
  FROM settlement_lines
  WHERE psp_reference IS NOT NULL
  GROUP BY psp, payout_id, payout_date, psp_reference, currency
),

matched AS (
  SELECT
    COALESCE(s.psp_reference, l.psp_reference) AS psp_reference,
    COALESCE(s.currency, l.currency) AS currency,
    s.psp,
    s.payout_id,
    s.payout_date,
    s.source_file,
    s.psp_gross,
    s.psp_refunds,
    s.psp_fees,
    s.psp_chargebacks,
    s.psp_net,
    l.ledger_gross,
    l.ledger_refunds,
    l.ledger_fees,
    l.ledger_chargebacks,
    l.order_ids,
    l.first_posted_at,
    s.psp_reference IS NOT NULL AS in_settlement,
    l.psp_reference IS NOT NULL AS in_ledger
  FROM settlement_by_ref AS s
  FULL OUTER JOIN ledger_by_ref AS l
    ON l.psp_reference = s.psp_reference
   AND l.currency = s.currency
),

categorised AS (
  SELECT
    *,
    IFNULL(psp_gross, 0) - IFNULL(ledger_gross, 0) AS gross_diff,
    IFNULL(psp_refunds, 0) - IFNULL(ledger_refunds, 0) AS refund_diff,
    IFNULL(psp_fees, 0) - IFNULL(ledger_fees, 0) AS fee_diff,
    IFNULL(psp_chargebacks, 0) - IFNULL(ledger_chargebacks, 0) AS chargeback_diff,
    CASE
      WHEN NOT in_ledger THEN 'missing_in_ledger'
      WHEN NOT in_settlement AND first_posted_at < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 10 DAY) THEN 'missing_in_settlement_aged'
      WHEN NOT in_settlement THEN 'pending_settlement'
      WHEN ABS(IFNULL(psp_gross, 0) - IFNULL(ledger_gross, 0)) > 0.01 THEN 'gross_mismatch'
      WHEN ABS(IFNULL(psp_refunds, 0) - IFNULL(ledger_refunds, 0)) > 0.01 THEN 'refund_mismatch'
      WHEN ABS(IFNULL(psp_chargebacks, 0) - IFNULL(ledger_chargebacks, 0)) > 0.01 THEN 'chargeback_mismatch'
      WHEN ABS(IFNULL(psp_fees, 0) - IFNULL(ledger_fees, 0)) > 0.01 THEN 'fee_mismatch'
      ELSE 'matched'
    END AS recon_status
  FROM matched
),

payout_totals AS (
  SELECT
    psp,
    payout_id,
    payout_date,
    currency,
    SUM(psp_net) AS payout_net_from_lines
  FROM categorised
  WHERE payout_id IS NOT NULL
  GROUP BY psp, payout_id, payout_date, currency
),

bank AS (
  SELECT
    REGEXP_EXTRACT(description, r'(?i)payout[ :#-]*([A-Z0-9_]{8,})') AS payout_id,
    value_date,
    UPPER(currency) AS currency,
    CAST(amount AS NUMERIC) AS bank_amount
  FROM `fin-core-prod.treasury.bank_statement_lines`
  WHERE value_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 50 DAY)
    AND REGEXP_CONTAINS(description, r'(?i)payout')
)

SELECT
  c.recon_status,
  c.psp,
  c.payout_id,
  c.payout_date,
  c.psp_reference,
  c.currency,
  c.order_ids,
  c.psp_gross,
  c.ledger_gross,
  c.gross_diff,
  c.refund_diff,
  c.fee_diff,
  c.chargeback_diff,
  pt.payout_net_from_lines,
  b.bank_amount,
  b.value_date AS bank_value_date,
  ROUND(IFNULL(b.bank_amount, 0) - IFNULL(pt.payout_net_from_lines, 0), 2) AS payout_bank_diff,
  DATE_DIFF(b.value_date, c.payout_date, DAY) AS bank_lag_days,
  c.source_file,
  CURRENT_TIMESTAMP() AS reconciled_at
FROM categorised AS c
LEFT JOIN payout_totals AS pt
  ON pt.payout_id = c.payout_id AND pt.currency = c.currency
LEFT JOIN bank AS b
  ON b.payout_id = c.payout_id AND b.currency = c.currency
WHERE c.recon_status != 'matched'
   OR ABS(IFNULL(b.bank_amount, 0) - IFNULL(pt.payout_net_from_lines, 0)) > 0.01
ORDER BY c.payout_date DESC, c.recon_status, ABS(c.gross_diff) DESC
