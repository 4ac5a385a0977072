-- Committed-use discount coverage and utilisation per region for Compute Engine cores.
WITH usage AS (
  SELECT
    DATE(usage_start_time) AS d,
    location.region AS region,
    SUM(IF(sku.description LIKE '%Core running%', usage.amount_in_pricing_units, 0)) / 24 AS core_days,
    SUM(IF(sku.description LIKE '%Core running%', cost, 0)) AS on_demand_core_cost,
    SUM((
      SELECT IFNULL(SUM(c.amount), 0)
      FROM UNNEST(credits) AS c
      WHERE c.type = 'COMMITTED_USAGE_DISCOUNT'
    )) AS cud_credits
  FROM `finops-admin.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9`
  WHERE service.description = 'Compute Engine'
    AND _PARTITIONTIME >= TIMESTAMP(DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY))
    AND DATE(usage_start_time) >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
  GROUP BY 1, 2
),
commitments AS (
  SELECT region, SUM(vcpu_count) AS committed_cores
  FROM `finops-admin.inventory.active_commitments`
  WHERE CURRENT_DATE() BETWEEN start_date AND end_date
    AND resource_type = 'VCPU'
  GROUP BY region
)
SELECT
  u.region,
  ROUND(AVG(u.core_days), 1) AS avg_cores_used,
  c.committed_cores,
  ROUND(SAFE_DIVIDE(LEAST(AVG(u.core_days), c.committed_cores), AVG(u.core_days)), 3) AS cud_coverage,
  ROUND(SAFE_DIVIDE(LEAST(AVG(u.core_days), c.committed_cores), c.committed_cores), 3) AS cud_utilisation,
  ROUND(SUM(u.on_demand_core_cost), 2) AS core_cost_30d,
  ROUND(-SUM(u.cud_credits), 2) AS cud_savings_30d,
  ROUND(APPROX_QUANTILES(u.core_days, 10)[OFFSET(1)], 1) AS p10_daily_cores
FROM usage AS u
LEFT JOIN commitments AS c USING (region)
GROUP BY u.region, c.committed_cores
ORDER BY core_cost_30d DESC
