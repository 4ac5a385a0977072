WITH subs AS (
  SELECT
    subscription_id,
    customer_id,
    plan_interval,
    DATE(started_at) AS start_date,
    DATE(canceled_at) AS cancel_date,
    DATE_TRUNC(DATE(started_at), MONTH) AS cohort_month
  FROM subs-analytics.billing.subscriptions
  WHERE started_at >= '2023-01-01'
    AND NOT is_trial_only
),
month_offsets AS (
  SELECT n FROM UNNEST(GENERATE_ARRAY(0, 18)) AS n
)
SELECT
  s.cohort_month,
  s.plan_interval,
  m.n AS months_since_start,
  COUNT(DISTINCT s.subscription_id) AS cohort_size,
  COUNT(DISTINCT IF(
    s.cancel_date IS NULL OR s.cancel_date > DATE_ADD(s.start_date, INTERVAL m.n MONTH),
    s.subscription_id, NULL
  )) AS still_active,
  ROUND(SAFE_DIVIDE(
    COUNT(DISTINCT IF(s.cancel_date IS NULL OR s.cancel_date > DATE_ADD(s.start_date, INTERVAL m.n MONTH), s.subscription_id, NULL)),
    COUNT(DISTINCT s.subscription_id)
  ), 4) AS survival_rate
FROM subs AS s
CROSS JOIN month_offsets AS m
WHERE DATE_ADD(s.cohort_month, INTERVAL m.n MONTH) <= DATE_TRUNC(CURRENT_DATE(), MONTH)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
