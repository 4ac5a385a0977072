# Cloud Storage cost by bucket (resource-level export), split by storage class and operation type.
SELECT
  REGEXP_EXTRACT(resource.name, r'projects/_/buckets/([^/]+)') AS bucket,
  project.id AS project_id,
  CASE
    WHEN REGEXP_CONTAINS(sku.description, r'(?i)nearline') THEN 'nearline'
    WHEN REGEXP_CONTAINS(sku.description, r'(?i)coldline') THEN 'coldline'
    WHEN REGEXP_CONTAINS(sku.description, r'(?i)archive') THEN 'archive'
    ELSE 'standard'
  END AS storage_class,
  CASE
    WHEN REGEXP_CONTAINS(sku.description, r'(?i)storage') THEN 'at_rest'
    WHEN REGEXP_CONTAINS(sku.description, r'(?i)class a') THEN 'class_a_ops'
    WHEN REGEXP_CONTAINS(sku.description, r'(?i)class b') THEN 'class_b_ops'
    WHEN REGEXP_CONTAINS(sku.description, r'(?i)egress|download') THEN 'egress'
    ELSE 'other'
  END AS cost_type,
  ROUND(SUM(cost), 2) AS cost,
  ROUND(SUM(IF(usage.pricing_unit = 'gibibyte month', usage.amount_in_pricing_units, 0)), 1) AS gib_months
FROM `finops-admin.billing_export.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9`
WHERE service.description = 'Cloud Storage'
  AND invoice.month = FORMAT_DATE('%Y%m', DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH))
GROUP BY 1, 2, 3, 4
HAVING cost > 1
ORDER BY cost DESC
