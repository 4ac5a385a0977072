-- Consumer lending: application-time credit features from bureau tradelines,
-- bank transaction aggregates (open banking) and internal repayment history.
-- Strictly point-in-time: every source is filtered to data available before application_ts.

WITH applications AS (
  SELECT
    application_id,
    applicant_id,
    application_ts,
    requested_amount,
    requested_term_months,
    product_code,
    channel,
    declared_income_monthly,
    declared_housing_status,
    employment_status
  FROM `lend-risk-prod.origination.applications`
  WHERE application_ts >= TIMESTAMP '2023-01-01'
),

tradelines AS (
  SELECT
    a.application_id,
    t.tradeline_id,
    t.account_type,            -- 'revolving' | 'installment' | 'mortgage' | 'open'
    t.opened_date,
    t.closed_date,
    t.credit_limit,
    t.current_balance,
    t.monthly_payment,
    t.worst_status_24m,        -- 0 = current, 1 = 30dpd, 2 = 60dpd, ...
    t.payment_history_string   -- e.g. 'CCCC1CCCCC2C...' most recent first
  FROM applications AS a
  JOIN `lend-risk-prod.bureau.tradelines` AS t
    ON t.applicant_id = a.applicant_id
   AND t.report_ts <= a.application_ts
  QUALIFY t.report_ts = MAX(t.report_ts) OVER (PARTITION BY a.application_id)
),

bureau_features AS (
  SELECT
    application_id,
    COUNT(*) AS tl_count,
    COUNTIF(closed_date IS NULL) AS tl_open_count,
    COUNTIF(account_type = 'revolving' AND closed_date IS NULL) AS revolving_open_count,
    SUM(IF(account_type = 'revolving' AND closed_date IS NULL, current_balance, 0)) AS revolving_balance,
    SUM(IF(account_type = 'revolving' AND closed_date IS NULL, credit_limit, 0)) AS revolving_limit,
    SUM(IF(closed_date IS NULL, monthly_payment, 0)) AS total_monthly_obligations,
    MAX(worst_status_24m) AS worst_status_24m,
    COUNTIF(worst_status_24m >= 2) AS tl_60dpd_plus_24m,
    MIN(opened_date) AS oldest_tradeline_date,
    MAX(opened_date) AS newest_tradeline_date,
    -- delinquency characters in the most recent 12 months of history
    SUM(ARRAY_LENGTH(REGEXP_EXTRACT_ALL(SUBSTR(payment_history_string, 1, 12), r'[1-9]'))) AS late_months_12m
  FROM tradelines
  GROUP BY application_id
),

inquiries AS (
  SELECT
    a.application_id,
    COUNTIF(i.inquiry_ts >= TIMESTAMP_SUB(a.application_ts, INTERVAL 30 DAY)) AS inquiries_30d,
    COUNTIF(i.inquiry_ts >= TIMESTAMP_SUB(a.application_ts, INTERVAL 180 DAY)) AS inquiries_180d
  FROM applications AS a
  JOIN `lend-risk-prod.bureau.hard_inquiries` AS i
    ON i.applicant_id = a.applicant_id
   AND i.inquiry_ts < a.application_ts
  GROUP BY a.application_id
),

bank_tx AS (
  SELECT
    a.application_id,
    b.booking_date,
    b.amount,
    b.category,
    b.counterparty_name
  FROM applications AS a
  JOIN `lend-risk-prod.open_banking.transactions` AS b
    ON b.applicant_id = a.applicant_id
   AND b.booking_date BETWEEN DATE_SUB(DATE(a.application_ts), INTERVAL 90 DAY) AND DATE(a.application_ts)
   AND b.fetched_ts <= a.application_ts
),

bank_features AS (
  SELECT
    application_id,
    SUM(IF(amount > 0 AND category = 'salary', amount, 0)) / 3 AS verified_income_monthly,
    COUNT(DISTINCT IF(amount > 0 AND category = 'salary', FORMAT_DATE('%Y-%m', booking_date), NULL)) AS salary_months,
    SUM(IF(amount < 0, -amount, 0)) / 3 AS avg_monthly_outflow,
    SUM(IF(category = 'gambling', -amount, 0)) AS gambling_spend_90d,
    COUNTIF(category = 'returned_payment') AS returned_payments_90d,
    COUNTIF(category = 'overdraft_fee') AS overdraft_fees_90d,
    COUNTIF(REGEXP_CONTAINS(LOWER(counterparty_name), r'payday|quick ?cash|loan ?express')) AS payday_lender_tx_90d,
    MIN(booking_date) AS first_tx_date
  FROM bank_tx
  GROUP BY application_id
),

daily_balance AS (
  SELECT
    application_id,
    booking_date,
    SUM(SUM(amount)) OVER (PARTITION BY application_id ORDER BY booking_date) AS running_net_flow
  FROM bank_tx
  GROUP BY application_id, booking_date
),

balance_features AS (
  SELECT
    application_id,
    MIN(running_net_flow) AS min_running_net_flow,
    COUNTIF(running_net_flow < 0) AS days_negative_flow
  FROM daily_balance
  GROUP BY application_id
),

internal_history AS (
  SELECT
    a.application_id,
    COUNT(DISTINCT l.loan_id) AS prior_loans,
    COUNTIF(l.status = 'repaid') AS prior_loans_repaid,
    COUNTIF(l.max_dpd >= 30) AS prior_loans_30dpd,
    MAX(l.disbursed_ts) AS last_disbursed_ts
  FROM applications AS a
  JOIN `lend-risk-prod.servicing.loans` AS l
    ON l.applicant_id = a.applicant_id
   AND l.disbursed_ts < a.application_ts
  GROUP BY a.application_id
),

labels AS (
  SELECT
    l.application_id,
    LOGICAL_OR(s.days_past_due >= 60 AND s.statement_number <= 12) AS bad_60dpd_12m,
    MAX(s.statement_number) AS statements_observed
  FROM `lend-risk-prod.servicing.loans` AS l
  JOIN `lend-risk-prod.servicing.statements` AS s USING (loan_id)
  GROUP BY l.application_id
)

SELECT
  a.application_id,
  a.application_ts,
  a.product_code,
  a.channel,
  a.requested_amount,
  a.requested_term_months,
  a.employment_status,
  a.declared_housing_status,
  a.declared_income_monthly,
  bf.verified_income_monthly,
  SAFE_DIVIDE(bf.verified_income_monthly, a.declared_income_monthly) AS income_verification_ratio,
  bf.salary_months,
  -- bureau
  IFNULL(b.tl_count, 0) AS tl_count,
  IFNULL(b.tl_open_count, 0) AS tl_open_count,
  b.revolving_open_count,
  SAFE_DIVIDE(b.revolving_balance, b.revolving_limit) AS revolving_utilisation,
  b.total_monthly_obligations,
  SAFE_DIVIDE(
    IFNULL(b.total_monthly_obligations, 0) + a.requested_amount / a.requested_term_months,
    COALESCE(bf.verified_income_monthly, a.declared_income_monthly)
  ) AS debt_to_income_post_loan,
  b.worst_status_24m,
  b.tl_60dpd_plus_24m,
  b.late_months_12m,
  DATE_DIFF(DATE(a.application_ts), b.oldest_tradeline_date, MONTH) AS credit_history_months,
  DATE_DIFF(DATE(a.application_ts), b.newest_tradeline_date, MONTH) AS months_since_newest_tradeline,
  IFNULL(i.inquiries_30d, 0) AS inquiries_30d,
  IFNULL(i.inquiries_180d, 0) AS inquiries_180d,
  -- open banking
  bf.avg_monthly_outflow,
  bf.gambling_spend_90d,
  bf.returned_payments_90d,
  bf.overdraft_fees_90d,
  bf.payday_lender_tx_90d,
  bl.min_running_net_flow,
  bl.days_negative_flow,
  DATE_DIFF(DATE(a.application_ts), bf.first_tx_date, DAY) AS bank_history_days,
  -- internal
  IFNULL(ih.prior_loans, 0) AS prior_loans,
  IFNULL(ih.prior_loans_repaid, 0) AS prior_loans_repaid,
  IFNULL(ih.prior_loans_30dpd, 0) AS prior_loans_30dpd,
  TIMESTAMP_DIFF(a.application_ts, ih.last_disbursed_ts, DAY) AS days_since_last_loan,
  -- label (only for matured loans)
  IF(lb.statements_observed >= 12 OR lb.bad_60dpd_12m, lb.bad_60dpd_12m, NULL) AS label_bad_60dpd_12m
FROM applications AS a
LEFT JOIN bureau_features AS b USING (application_id)
LEFT JOIN inquiries AS i USING (application_id)
LEFT JOIN bank_features AS bf USING (application_id)
LEFT JOIN balance_features AS bl USING (application_id)
LEFT JOIN internal_history AS ih USING (application_id)
LEFT JOIN labels AS lb USING (application_id)
