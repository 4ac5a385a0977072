# Cloud billing export: daily cost by project/service/SKU, net of credits.
# Credits (sustained use, committed use, promotions) are negative amounts.
# Partition filter on _PARTITIONTIME keeps the scan bounded.
SELECT
  DATE(usage_start_time, "UTC") AS usage_date,
  project.id AS project_id,
  service.description AS service,
  sku.description AS sku,
  SUM(cost) AS gross_cost,
  SUM(IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0)) AS credits,
  SUM(cost) + SUM(IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0)) AS net_cost,
  ANY_VALUE(currency) AS currency,
  SUM(usage.amount_in_pricing_units) AS usage_pricing_units,
  ANY_VALUE(usage.pricing_unit) AS pricing_unit
FROM billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9
WHERE _PARTITIONTIME >= TIMESTAMP(DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY))
  AND DATE(usage_start_time, "UTC") >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
GROUP BY 1, 2, 3, 4
HAVING ABS(net_cost) > 0.001
ORDER BY usage_date DESC, net_cost DESC
