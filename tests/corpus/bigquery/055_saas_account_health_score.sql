-- Account health score for Customer Success.
-- Combines product usage, seat utilisation, support friction, billing risk and
-- engagement trend into a 0-100 score with explainable components.
-- Grain: account_id as of yesterday.

WITH as_of AS (
  SELECT DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY) AS d
),

accounts AS (
  SELECT
    a.account_id,
    a.account_name,
    a.plan_tier,
    a.csm_owner,
    a.contract_start_date,
    a.contract_end_date,
    a.seats_purchased,
    a.arr_usd,
    a.industry,
    a.region
  FROM `saas-core-prod.accounts.accounts` AS a
  WHERE a.status = 'customer'
    AND a.is_internal = FALSE
),

usage_daily AS (
  SELECT
    u.account_id,
    u.activity_date,
    COUNT(DISTINCT u.user_id) AS active_users,
    SUM(u.events) AS events,
    COUNT(DISTINCT u.feature_key) AS features_used,
    COUNTIF(u.feature_key IN ('reports.create', 'automations.run', 'api.call')) AS power_feature_events
  FROM `saas-core-prod.product.user_feature_usage_daily` AS u, as_of
  WHERE u.activity_date BETWEEN DATE_SUB(as_of.d, INTERVAL 89 DAY) AND as_of.d
  GROUP BY u.account_id, u.activity_date
),

usage_windows AS (
  SELECT
    ud.account_id,
    AVG(IF(ud.activity_date > DATE_SUB(as_of.d, INTERVAL 30 DAY), ud.active_users, NULL)) AS avg_dau_30d,
    AVG(IF(ud.activity_date <= DATE_SUB(as_of.d, INTERVAL 60 DAY), ud.active_users, NULL)) AS avg_dau_prior_30d,
    SUM(IF(ud.activity_date > DATE_SUB(as_of.d, INTERVAL 30 DAY), ud.events, 0)) AS events_30d,
    MAX(IF(ud.activity_date > DATE_SUB(as_of.d, INTERVAL 30 DAY), ud.features_used, NULL)) AS max_features_30d,
    SUM(IF(ud.activity_date > DATE_SUB(as_of.d, INTERVAL 30 DAY), ud.power_feature_events, 0)) AS power_events_30d,
    COUNTIF(ud.activity_date > DATE_SUB(as_of.d, INTERVAL 30 DAY) AND ud.active_users > 0) AS active_days_30d,
    MAX(ud.activity_date) AS last_active_date
  FROM usage_daily AS ud
  CROSS JOIN as_of
  GROUP BY ud.account_id
),

mau AS (
  SELECT
    u.account_id,
    COUNT(DISTINCT u.user_id) AS mau
  FROM `saas-core-prod.product.user_feature_usage_daily` AS u, as_of
  WHERE u.activity_date BETWEEN DATE_SUB(as_of.d, INTERVAL 29 DAY) AND as_of.d
  GROUP BY u.account_id
),

-- linear trend of weekly active users over 12 weeks (slope via least squares)
weekly_active AS (
  SELECT
    u.account_id,
    DATE_DIFF(DATE_TRUNC(u.activity_date, WEEK), DATE_TRUNC(DATE_SUB(as_of.d, INTERVAL 84 DAY), WEEK), WEEK) AS week_idx,
    COUNT(DISTINCT u.user_id) AS wau
  FROM `saas-core-prod.product.user_feature_usage_daily` AS u, as_of
  WHERE u.activity_date BETWEEN DATE_SUB(as_of.d, INTERVAL 84 DAY) AND as_of.d
  GROUP BY 1, 2
),

trend AS (
  SELECT
    account_id,
    SAFE_DIVIDE(
      COUNT(*) * SUM(week_idx * wau) - SUM(week_idx) * SUM(wau),
      COUNT(*) * SUM(week_idx * week_idx) - SUM(week_idx) * SUM(week_idx)
    ) AS wau_slope,
    AVG(wau) AS avg_wau
  FROM weekly_active
  GROUP BY account_id
),

support AS (
  SELECT
    t.organization_id AS account_id,
    COUNTIF(t.created_at >= TIMESTAMP(DATE_SUB(as_of.d, INTERVAL 30 DAY))) AS tickets_30d,
    COUNTIF(t.priority IN ('urgent', 'high') AND t.created_at >= TIMESTAMP(DATE_SUB(as_of.d, INTERVAL 30 DAY))) AS high_pri_tickets_30d,
    AVG(IF(t.created_at >= TIMESTAMP(DATE_SUB(as_of.d, INTERVAL 90 DAY)), t.satisfaction_score, NULL)) AS csat_90d,
    COUNTIF(t.status IN ('open', 'pending') AND t.created_at < TIMESTAMP(DATE_SUB(as_of.d, INTERVAL 14 DAY))) AS stale_open_tickets
  FROM `acme-dw.support.tickets` AS t, as_of
  GROUP BY 1
),

billing AS (
  SELECT
    i.account_id,
    COUNTIF(i.status = 'past_due') AS past_due_invoices,
    MAX(IF(i.status = 'past_due', DATE_DIFF(as_of.d, i.due_date, DAY), 0)) AS max_days_past_due,
    LOGICAL_OR(i.payment_failed_count > 2) AS repeated_payment_failures
  FROM `saas-core-prod.billing.invoices` AS i, as_of
  WHERE i.issued_date >= DATE_SUB(as_of.d, INTERVAL 180 DAY)
  GROUP BY i.account_id
),

nps AS (
  SELECT
    account_id,
    AVG(score) AS avg_nps_score,
    COUNTIF(score <= 6) AS detractors,
    COUNT(*) AS responses
  FROM `acme-dw.surveys.nps_responses`
  WHERE responded_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)
  GROUP BY account_id
),

components AS (
  SELECT
    a.*,
    m.mau,
    uw.avg_dau_30d,
    uw.avg_dau_prior_30d,
    uw.events_30d,
    uw.max_features_30d,
    uw.power_events_30d,
    uw.active_days_30d,
    uw.last_active_date,
    tr.wau_slope,
    tr.avg_wau,
    s.tickets_30d,
    s.high_pri_tickets_30d,
    s.csat_90d,
    s.stale_open_tickets,
    b.past_due_invoices,
    b.max_days_past_due,
    b.repeated_payment_failures,
    n.avg_nps_score,
    n.responses AS nps_responses,
    DATE_DIFF(a.contract_end_date, (SELECT d FROM as_of), DAY) AS days_to_renewal,
    -- each component scored 0..1
    LEAST(1.0, IFNULL(SAFE_DIVIDE(m.mau, a.seats_purchased), 0)) AS c_seat_utilisation,
    LEAST(1.0, IFNULL(uw.active_days_30d, 0) / 22) AS c_consistency,
    LEAST(1.0, IFNULL(uw.max_features_30d, 0) / 12) AS c_breadth,
    CASE
      WHEN tr.wau_slope IS NULL THEN 0.5
      WHEN SAFE_DIVIDE(tr.wau_slope, tr.avg_wau) >= 0.02 THEN 1.0
      WHEN SAFE_DIVIDE(tr.wau_slope, tr.avg_wau) >= -0.02 THEN 0.7
      WHEN SAFE_DIVIDE(tr.wau_slope, tr.avg_wau) >= -0.05 THEN 0.4
      ELSE 0.1
    END AS c_trend,
    CASE
      WHEN IFNULL(s.high_pri_tickets_30d, 0) >= 3 OR IFNULL(s.stale_open_tickets, 0) >= 2 THEN 0.2
      WHEN IFNULL(s.csat_90d, 5) < 3.5 THEN 0.4
      WHEN IFNULL(s.tickets_30d, 0) > 10 THEN 0.6
      ELSE 1.0
    END AS c_support,
    CASE
      WHEN IFNULL(b.max_days_past_due, 0) > 30 OR IFNULL(b.repeated_payment_failures, FALSE) THEN 0.0
      WHEN IFNULL(b.past_due_invoices, 0) > 0 THEN 0.5
      ELSE 1.0
    END AS c_billing,
    CASE
      WHEN n.avg_nps_score IS NULL THEN 0.6
      ELSE n.avg_nps_score / 10
    END AS c_sentiment
  FROM accounts AS a
  LEFT JOIN mau AS m USING (account_id)
  LEFT JOIN usage_windows AS uw USING (account_id)
  LEFT JOIN trend AS tr USING (account_id)
  LEFT JOIN support AS s USING (account_id)
  LEFT JOIN billing AS b USING (account_id)
  LEFT JOIN nps AS n USING (account_id)
),

scored AS (
  SELECT
    *,
    ROUND(100 * (
        0.25 * c_seat_utilisation
      + 0.15 * c_consistency
      + 0.10 * c_breadth
      + 0.15 * c_trend
      + 0.15 * c_support
      + 0.10 * c_billing
      + 0.10 * c_sentiment
    ), 1) AS health_score
  FROM components
)

SELECT
  (SELECT d FROM as_of) AS score_date,
  account_id,
  account_name,
  plan_tier,
  csm_owner,
  region,
  industry,
  arr_usd,
  seats_purchased,
  mau,
  days_to_renewal,
  health_score,
  CASE
    WHEN health_score >= 75 THEN 'green'
    WHEN health_score >= 50 THEN 'yellow'
    ELSE 'red'
  END AS health_band,
  -- the weakest component drives the CSM playbook
  (
    SELECT AS STRUCT name, value
    FROM UNNEST([
      STRUCT('seat_utilisation' AS name, c_seat_utilisation AS value),
      STRUCT('consistency', c_consistency),
      STRUCT('breadth', c_breadth),
      STRUCT('trend', c_trend),
      STRUCT('support', c_support),
      STRUCT('billing', c_billing),
      STRUCT('sentiment', c_sentiment)
    ])
    ORDER BY value
    LIMIT 1
  ) AS weakest_component,
  STRUCT(
    ROUND(c_seat_utilisation, 3) AS seat_utilisation,
    ROUND(c_consistency, 3) AS consistency,
    ROUND(c_breadth, 3) AS breadth,
    ROUND(c_trend, 3) AS trend,
    ROUND(c_support, 3) AS support,
    ROUND(c_billing, 3) AS billing,
    ROUND(c_sentiment, 3) AS sentiment
  ) AS components,
  health_score - LAG(health_score) OVER (PARTITION BY csm_owner ORDER BY health_score) AS gap_to_next_lower_in_book,
  last_active_date,
  tickets_30d,
  past_due_invoices,
  avg_nps_score,
  days_to_renewal <= 90 AND health_score < 50 AS renewal_at_risk
FROM scored
ORDER BY renewal_at_risk DESC, arr_usd DESC
