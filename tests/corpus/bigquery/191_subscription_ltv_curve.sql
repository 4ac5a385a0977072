-- Cumulative revenue per subscriber by month since start (LTV curve) for monthly plans.
WITH payments AS (
  SELECT
    s.subscription_id,
    DATE_TRUNC(DATE(s.started_at), MONTH) AS cohort_month,
    DATE_DIFF(DATE(p.paid_at), DATE(s.started_at), MONTH) AS month_n,
    p.amount_paid_minor / 100 AS amount
  FROM `subs-analytics.billing.subscriptions` AS s
  JOIN `subs-analytics.billing.invoices_paid` AS p USING (subscription_id)
  WHERE s.plan_interval = 'month'
    AND s.started_at >= TIMESTAMP '2023-01-01'
),
cohort_sizes AS (
  SELECT cohort_month, COUNT(DISTINCT subscription_id) AS subscribers
  FROM payments
  GROUP BY cohort_month
)
SELECT
  p.cohort_month,
  p.month_n,
  c.subscribers,
  ROUND(SUM(p.amount), 2) AS revenue_in_month,
  ROUND(SUM(SUM(p.amount)) OVER (PARTITION BY p.cohort_month ORDER BY p.month_n) / c.subscribers, 2) AS cumulative_ltv_per_subscriber
FROM payments AS p
JOIN cohort_sizes AS c USING (cohort_month)
WHERE p.month_n BETWEEN 0 AND 24
GROUP BY p.cohort_month, p.month_n, c.subscribers
ORDER BY p.cohort_month, p.month_n
