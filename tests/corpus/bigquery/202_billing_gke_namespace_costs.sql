-- GKE cost allocation by cluster and namespace (labels from the detailed billing export).
-- Requires GKE cost allocation enabled on the clusters (adds k8s-* labels).
-- Costs without a namespace label are system overhead (kube-system, node idle).
-- Team attribution uses the k8s-label/team pod label.
-- Net cost includes sustained/committed use credits.
-- Previous invoice month only.
-- Shared node pools are not split by request/limit here.
SELECT
  invoice.month AS invoice_month,
  (SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = 'goog-k8s-cluster-name') AS cluster,
  IFNULL((SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = 'k8s-namespace'), '(unallocated)') AS namespace,
  IFNULL((SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = 'k8s-label/team'), '(no team label)') AS team,
  ROUND(SUM(cost), 2) AS gross_cost,
  ROUND(SUM(cost) + SUM(IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0)), 2) AS net_cost,
  ROUND(SUM(IF(sku.description LIKE '%RAM%', cost, 0)), 2) AS memory_cost,
  ROUND(SUM(IF(sku.description LIKE '%Core%' OR sku.description LIKE '%CPU%', cost, 0)), 2) AS cpu_cost
FROM billing_export.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9
WHERE invoice.month = FORMAT_DATE('%Y%m', DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH))
  AND EXISTS (SELECT 1 FROM UNNEST(labels) AS l WHERE l.key = 'goog-k8s-cluster-name')
GROUP BY 1, 2, 3, 4
ORDER BY net_cost DESC
