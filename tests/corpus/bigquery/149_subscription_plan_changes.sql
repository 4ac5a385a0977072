-- Upgrade / downgrade matrix between plans (last 180 days).
WITH changes AS (
  SELECT
    subscription_id,
    changed_at,
    LAG(plan_code) OVER (PARTITION BY subscription_id ORDER BY changed_at) AS from_plan,
    plan_code AS to_plan,
    LAG(mrr_usd) OVER (PARTITION BY subscription_id ORDER BY changed_at) AS from_mrr,
    mrr_usd AS to_mrr
  FROM `subs-analytics.billing.subscription_plan_history`
)
SELECT
  from_plan,
  to_plan,
  COUNT(*) AS changes,
  COUNTIF(to_mrr > from_mrr) AS upgrades,
  COUNTIF(to_mrr < from_mrr) AS downgrades,
  ROUND(SUM(to_mrr - from_mrr), 2) AS net_mrr_delta
FROM changes
WHERE from_plan IS NOT NULL
  AND from_plan != to_plan
  AND changed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)
GROUP BY from_plan, to_plan
ORDER BY changes DESC
