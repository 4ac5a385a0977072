-- Budget vs actual by cost center and GL account group, current fiscal year to date.
WITH actuals AS (
  SELECT
    cost_center,
    account_group,
    DATE_TRUNC(posting_date, MONTH) AS period,
    SUM(IF(direction = 'debit', amount, -amount)) AS actual
  FROM ledger.journal_lines
  JOIN ledger.chart_of_accounts USING (account_code)
  WHERE posting_date BETWEEN DATE_TRUNC(CURRENT_DATE(), YEAR) AND CURRENT_DATE()
    AND account_type = 'expense'
  GROUP BY 1, 2, 3
),
budget AS (
  SELECT cost_center, account_group, period, SUM(amount) AS budget
  FROM planning.opex_budget
  WHERE fiscal_year = EXTRACT(YEAR FROM CURRENT_DATE())
    AND version = 'approved'
  GROUP BY 1, 2, 3
)
SELECT
  COALESCE(a.cost_center, b.cost_center) AS cost_center,
  COALESCE(a.account_group, b.account_group) AS account_group,
  ROUND(SUM(IFNULL(a.actual, 0)), 0) AS actual_ytd,
  ROUND(SUM(IF(COALESCE(a.period, b.period) < DATE_TRUNC(CURRENT_DATE(), MONTH), IFNULL(b.budget, 0), 0)), 0) AS budget_ytd_closed_months,
  ROUND(SUM(IFNULL(a.actual, 0)) - SUM(IF(COALESCE(a.period, b.period) < DATE_TRUNC(CURRENT_DATE(), MONTH), IFNULL(b.budget, 0), 0)), 0) AS variance,
  ROUND(SAFE_DIVIDE(SUM(IFNULL(a.actual, 0)), SUM(IFNULL(b.budget, 0))), 3) AS full_year_budget_consumed
FROM actuals AS a
FULL OUTER JOIN budget AS b
  ON b.cost_center = a.cost_center
 AND b.account_group = a.account_group
 AND b.period = a.period
GROUP BY 1, 2
ORDER BY variance DESC
