-- Allocate cost to teams using resource labels, falling back to project labels.
WITH billing AS (
  SELECT
    DATE_TRUNC(DATE(usage_start_time), MONTH) AS invoice_month_start,
    invoice.month AS invoice_month,
    project.id AS project_id,
    service.description AS service,
    cost,
    (SELECT SUM(amount) FROM UNNEST(credits)) AS credit_amount,
    (SELECT value FROM UNNEST(labels) WHERE key = 'team') AS resource_team,
    (SELECT value FROM UNNEST(project.labels) WHERE key = 'team') AS project_team,
    (SELECT value FROM UNNEST(labels) WHERE key = 'env') AS env
  FROM billing_export.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9
  WHERE invoice.month IN (
    FORMAT_DATE('%Y%m', DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH)),
    FORMAT_DATE('%Y%m', CURRENT_DATE())
  )
),
labeled AS (
  SELECT
    invoice_month,
    COALESCE(resource_team, project_team, 'unallocated') AS team,
    IFNULL(env, 'unknown') AS env,
    service,
    cost + IFNULL(credit_amount, 0) AS net_cost
  FROM billing
)
SELECT
  invoice_month,
  team,
  env,
  service,
  ROUND(SUM(net_cost), 2) AS net_cost,
  ROUND(SAFE_DIVIDE(SUM(net_cost), SUM(SUM(net_cost)) OVER (PARTITION BY invoice_month)) * 100, 2) AS pct_of_month
FROM labeled
GROUP BY ROLLUP (invoice_month, team, env, service)
HAVING invoice_month IS NOT NULL
ORDER BY invoice_month, team NULLS FIRST, env NULLS FIRST, net_cost DESC
