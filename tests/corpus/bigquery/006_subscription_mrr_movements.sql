/*
 * MRR movement waterfall per month: new, expansion, contraction, churn, reactivation.
 * Source: billing system subscription snapshots (one row per subscription per day).
 * Notes:
 *   - amounts are normalised to monthly (annual plans / 12)
 *   - FX is applied at month-end rate
 */
WITH params AS (
  SELECT
    DATE '2022-01-01' AS start_month,
    DATE_TRUNC(CURRENT_DATE(), MONTH) AS end_month
),

months AS (
  SELECT month_start
  FROM params,
  UNNEST(GENERATE_DATE_ARRAY(params.start_month, params.end_month, INTERVAL 1 MONTH)) AS month_start
),

fx AS (
  SELECT
    currency,
    DATE_TRUNC(rate_date, MONTH) AS month_start,
    ARRAY_AGG(usd_rate ORDER BY rate_date DESC LIMIT 1)[OFFSET(0)] AS usd_rate
  FROM `fin-core-prod.reference.fx_rates_daily`
  WHERE rate_date >= (SELECT start_month FROM params)
  GROUP BY currency, month_start
),

snapshots AS (
  SELECT
    s.subscription_id,
    s.account_id,
    s.snapshot_date,
    s.status,
    s.plan_code,
    s.billing_interval,
    s.currency,
    s.quantity,
    s.unit_amount_minor / 100 AS unit_amount,
    s.discount_percent
  FROM `fin-core-prod.billing.subscription_daily_snapshots` AS s
  WHERE s.snapshot_date >= (SELECT start_month FROM params)
    AND s.is_test_account IS NOT TRUE
),

month_end_state AS (
  -- take the last snapshot of each subscription in each month
  SELECT
    DATE_TRUNC(snapshot_date, MONTH) AS month_start,
    subscription_id,
    account_id,
    status,
    plan_code,
    billing_interval,
    currency,
    quantity,
    unit_amount,
    discount_percent
  FROM snapshots
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY subscription_id, DATE_TRUNC(snapshot_date, MONTH)
    ORDER BY snapshot_date DESC
  ) = 1
),

normalised AS (
  SELECT
    m.month_start,
    m.account_id,
    m.subscription_id,
    m.plan_code,
    CASE
      WHEN m.status NOT IN ('active', 'past_due') THEN 0
      WHEN m.billing_interval = 'year' THEN m.quantity * m.unit_amount * (1 - IFNULL(m.discount_percent, 0) / 100) / 12
      WHEN m.billing_interval = 'quarter' THEN m.quantity * m.unit_amount * (1 - IFNULL(m.discount_percent, 0) / 100) / 3
      WHEN m.billing_interval = 'week' THEN m.quantity * m.unit_amount * (1 - IFNULL(m.discount_percent, 0) / 100) * 52 / 12
      ELSE m.quantity * m.unit_amount * (1 - IFNULL(m.discount_percent, 0) / 100)
    END * IF(m.currency = 'USD', 1, fx.usd_rate) AS mrr_usd
  FROM month_end_state AS m
  LEFT JOIN fx
    ON fx.currency = m.currency
   AND fx.month_start = m.month_start
),

account_month AS (
  SELECT
    month_start,
    account_id,
    ROUND(SUM(mrr_usd), 2) AS mrr,
    ARRAY_AGG(DISTINCT plan_code IGNORE NULLS ORDER BY plan_code) AS plans
  FROM normalised
  GROUP BY month_start, account_id
),

accounts AS (
  SELECT DISTINCT account_id FROM account_month
),

-- dense grid so that churned accounts produce a zero row in the month after churn
grid AS (
  SELECT a.account_id, m.month_start
  FROM accounts AS a
  CROSS JOIN months AS m
),

filled AS (
  SELECT
    g.account_id,
    g.month_start,
    IFNULL(am.mrr, 0) AS mrr,
    am.plans
  FROM grid AS g
  LEFT JOIN account_month AS am
    ON am.account_id = g.account_id
   AND am.month_start = g.month_start
),

with_history AS (
  SELECT
    account_id,
    month_start,
    mrr,
    plans,
    LAG(mrr, 1, 0) OVER w AS prev_mrr,
    MAX(mrr) OVER (PARTITION BY account_id ORDER BY month_start
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS max_prior_mrr,
    MIN(IF(mrr > 0, month_start, NULL)) OVER (PARTITION BY account_id) AS first_paid_month
  FROM filled
  WINDOW w AS (PARTITION BY account_id ORDER BY month_start)
),

classified AS (
  SELECT
    *,
    CASE
      WHEN prev_mrr = 0 AND mrr > 0 AND month_start = first_paid_month THEN 'new'
      WHEN prev_mrr = 0 AND mrr > 0 AND IFNULL(max_prior_mrr, 0) > 0 THEN 'reactivation'
      WHEN prev_mrr > 0 AND mrr = 0 THEN 'churn'
      WHEN prev_mrr > 0 AND mrr > prev_mrr THEN 'expansion'
      WHEN prev_mrr > 0 AND mrr < prev_mrr THEN 'contraction'
      WHEN prev_mrr > 0 AND mrr = prev_mrr THEN 'retained'
      ELSE 'inactive'
    END AS movement_type,
    mrr - prev_mrr AS mrr_delta
  FROM with_history
),

movements AS (
  SELECT
    month_start,
    SUM(IF(movement_type = 'new', mrr_delta, 0)) AS new_mrr,
    SUM(IF(movement_type = 'expansion', mrr_delta, 0)) AS expansion_mrr,
    SUM(IF(movement_type = 'contraction', mrr_delta, 0)) AS contraction_mrr,
    SUM(IF(movement_type = 'churn', mrr_delta, 0)) AS churned_mrr,
    SUM(IF(movement_type = 'reactivation', mrr_delta, 0)) AS reactivation_mrr,
    SUM(prev_mrr) AS opening_mrr,
    SUM(mrr) AS closing_mrr,
    COUNTIF(movement_type = 'new') AS new_accounts,
    COUNTIF(movement_type = 'churn') AS churned_accounts,
    COUNTIF(movement_type = 'reactivation') AS reactivated_accounts,
    COUNTIF(mrr > 0) AS paying_accounts
  FROM classified
  GROUP BY month_start
)

SELECT
  month_start,
  FORMAT_DATE('%Y-%m', month_start) AS month_label,
  ROUND(opening_mrr, 2) AS opening_mrr,
  ROUND(new_mrr, 2) AS new_mrr,
  ROUND(expansion_mrr, 2) AS expansion_mrr,
  ROUND(contraction_mrr, 2) AS contraction_mrr,
  ROUND(churned_mrr, 2) AS churned_mrr,
  ROUND(reactivation_mrr, 2) AS reactivation_mrr,
  ROUND(closing_mrr, 2) AS closing_mrr,
  -- sanity: opening + movements should equal closing
  ROUND(opening_mrr + new_mrr + expansion_mrr + contraction_mrr + churned_mrr + reactivation_mrr - closing_mrr, 2) AS reconciliation_gap,
  new_accounts,
  churned_accounts,
  reactivated_accounts,
  paying_accounts,
  ROUND(SAFE_DIVIDE(-churned_mrr, opening_mrr), 4) AS gross_mrr_churn_rate,
  ROUND(SAFE_DIVIDE(opening_mrr + expansion_mrr + contraction_mrr + churned_mrr, opening_mrr), 4) AS net_revenue_retention,
  ROUND(SAFE_DIVIDE(closing_mrr, paying_accounts), 2) AS arpa
FROM movements
WHERE month_start > (SELECT start_month FROM params)
ORDER BY month_start
