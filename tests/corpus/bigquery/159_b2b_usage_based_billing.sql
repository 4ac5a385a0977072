-- Usage-based billing: rate metered API usage against tiered price books,
-- apply committed-spend drawdown and produce invoice-ready lines per account and month.
-- Tiers are graduated (each unit priced at the tier it falls into).

WITH billing_period AS (
  SELECT
    DATE_TRUNC(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH), MONTH) AS period_start,
    LAST_DAY(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH)) AS period_end
),

usage_events AS (
  SELECT
    u.account_id,
    u.meter,                  -- 'api_calls' | 'compute_seconds' | 'storage_gb_hours' | 'egress_gb'
    u.quantity,
    u.event_ts,
    u.idempotency_key
  FROM `saas-core-prod.metering.usage_events` AS u, billing_period AS bp
  WHERE DATE(u.event_ts) BETWEEN bp.period_start AND bp.period_end
  QUALIFY ROW_NUMBER() OVER (PARTITION BY u.idempotency_key ORDER BY u.ingested_at) = 1
),

monthly_usage AS (
  SELECT
    account_id,
    meter,
    SUM(quantity) AS quantity,
    COUNT(*) AS events,
    MAX(event_ts) AS last_event_ts
  FROM usage_events
  GROUP BY account_id, meter
),

contracts AS (
  SELECT
    c.account_id,
    c.contract_id,
    c.price_book_id,
    c.committed_monthly_spend,
    c.discount_pct,
    c.currency,
    c.start_date,
    c.end_date
  FROM `saas-core-prod.billing.contracts` AS c, billing_period AS bp
  WHERE c.start_date <= bp.period_end
    AND (c.end_date IS NULL OR c.end_date >= bp.period_start)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY c.account_id ORDER BY c.start_date DESC) = 1
),

price_tiers AS (
  SELECT
    price_book_id,
    meter,
    tier_index,
    lower_bound,                                   -- inclusive
    upper_bound,                                   -- exclusive, NULL = unbounded
    CAST(unit_price AS NUMERIC) AS unit_price,
    unit_label
  FROM `saas-core-prod.billing.price_book_tiers`
),

rated_tiers AS (
  -- quantity falling into each tier
  SELECT
    mu.account_id,
    mu.meter,
    pt.tier_index,
    pt.lower_bound,
    pt.upper_bound,
    pt.unit_price,
    pt.unit_label,
    GREATEST(
      0,
      LEAST(mu.quantity, IFNULL(pt.upper_bound, mu.quantity)) - pt.lower_bound
    ) AS tier_quantity
  FROM monthly_usage AS mu
  JOIN contracts AS c USING (account_id)
  JOIN price_tiers AS pt
    ON pt.price_book_id = c.price_book_id
   AND pt.meter = mu.meter
),

meter_charges AS (
  SELECT
    account_id,
    meter,
    ANY_VALUE(unit_label) AS unit_label,
    SUM(tier_quantity) AS billable_quantity,
    SUM(CAST(tier_quantity AS NUMERIC) * unit_price) AS list_amount,
    ARRAY_AGG(
      STRUCT(tier_index, lower_bound, upper_bound, tier_quantity, unit_price,
             ROUND(CAST(tier_quantity AS NUMERIC) * unit_price, 2) AS amount)
      ORDER BY tier_index
    ) AS tier_breakdown
  FROM rated_tiers
  WHERE tier_quantity > 0
  GROUP BY account_id, meter
),

account_totals AS (
  SELECT
    mc.account_id,
    c.contract_id,
    c.currency,
    c.committed_monthly_spend,
    c.discount_pct,
    SUM(mc.list_amount) AS list_total,
    SUM(mc.list_amount) * (1 - IFNULL(c.discount_pct, 0) / 100) AS discounted_total
  FROM meter_charges AS mc
  JOIN contracts AS c USING (account_id)
  GROUP BY mc.account_id, c.contract_id, c.currency, c.committed_monthly_spend, c.discount_pct
),

prepaid_credits AS (
  SELECT
    account_id,
    SUM(remaining_amount) AS credit_balance
  FROM `saas-core-prod.billing.prepaid_credit_grants`, billing_period AS bp
  WHERE expires_at >= TIMESTAMP(bp.period_end)
    AND granted_at <= TIMESTAMP(bp.period_end)
  GROUP BY account_id
),

invoice AS (
  SELECT
    t.*,
    -- committed spend: the customer pays at least the commitment
    GREATEST(t.discounted_total, IFNULL(t.committed_monthly_spend, 0)) AS billable_before_credits,
    GREATEST(IFNULL(t.committed_monthly_spend, 0) - t.discounted_total, 0) AS commitment_shortfall,
    IFNULL(pc.credit_balance, 0) AS credit_balance
  FROM account_totals AS t
  LEFT JOIN prepaid_credits AS pc USING (account_id)
)

SELECT
  (SELECT period_start FROM billing_period) AS period_start,
  (SELECT period_end FROM billing_period) AS period_end,
  i.account_id,
  a.account_name,
  a.billing_email,
  i.contract_id,
  i.currency,
  ARRAY(
    SELECT AS STRUCT
      mc.meter,
      mc.unit_label,
      mc.billable_quantity,
      ROUND(mc.list_amount, 2) AS list_amount,
      ROUND(mc.list_amount * (1 - IFNULL(i.discount_pct, 0) / 100), 2) AS net_amount,
      mc.tier_breakdown
    FROM meter_charges AS mc
    WHERE mc.account_id = i.account_id
    ORDER BY mc.list_amount DESC
  ) AS lines,
  ROUND(i.list_total, 2) AS list_total,
  ROUND(i.list_total - i.discounted_total, 2) AS discount_amount,
  ROUND(i.discounted_total, 2) AS usage_total,
  ROUND(i.commitment_shortfall, 2) AS commitment_shortfall,
  ROUND(LEAST(i.credit_balance, i.billable_before_credits), 2) AS credits_applied,
  ROUND(i.billable_before_credits - LEAST(i.credit_balance, i.billable_before_credits), 2) AS amount_due,
  ROUND(i.credit_balance - LEAST(i.credit_balance, i.billable_before_credits), 2) AS credit_balance_after,
  i.commitment_shortfall > 0 AS under_commitment,
  a.tax_exempt,
  CURRENT_TIMESTAMP() AS rated_at
FROM invoice AS i
JOIN `saas-core-prod.accounts.accounts` AS a USING (account_id)
WHERE NOT a.is_internal
ORDER BY amount_due DESC
