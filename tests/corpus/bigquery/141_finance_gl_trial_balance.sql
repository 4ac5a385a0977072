-- Trial balance by account and month from the general ledger, with opening/closing balances.
WITH movements AS (
  SELECT
    account_code,
    DATE_TRUNC(posting_date, MONTH) AS period,
    SUM(IF(direction = 'debit', amount, 0)) AS debits,
    SUM(IF(direction = 'credit', amount, 0)) AS credits
  FROM fin-core-prod.ledger.journal_lines
  WHERE posting_date BETWEEN DATE '2023-01-01' AND LAST_DAY(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH))
    AND entity_code = 'US01'
    AND NOT is_reversed
  GROUP BY 1, 2
)
SELECT
  m.period,
  m.account_code,
  a.account_name,
  a.account_type,
  IFNULL(SUM(m.debits - m.credits) OVER (PARTITION BY m.account_code ORDER BY m.period ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS opening_balance,
  m.debits,
  m.credits,
  SUM(m.debits - m.credits) OVER (PARTITION BY m.account_code ORDER BY m.period ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS closing_balance,
  SUM(m.debits - m.credits) OVER (PARTITION BY m.period) AS period_imbalance  -- should always be 0
FROM movements AS m
JOIN fin-core-prod.ledger.chart_of_accounts AS a USING (account_code)
ORDER BY m.period, m.account_code
