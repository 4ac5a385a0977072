-- Bill of materials explosion: total component quantity and rolled-up cost per finished good.
-- Recursive CTE walks the BOM tree up to 12 levels deep.
WITH RECURSIVE bom_tree AS (
  SELECT
    b.parent_sku AS root_sku,
    b.parent_sku,
    b.component_sku,
    CAST(b.quantity_per AS NUMERIC) AS cumulative_qty,
    1 AS level,
    CONCAT(b.parent_sku, '>', b.component_sku) AS path
  FROM manufacturing.bom_lines AS b
  JOIN manufacturing.items AS i
    ON i.sku = b.parent_sku
  WHERE i.item_type = 'finished_good'
    AND b.valid_to IS NULL

  UNION ALL

  SELECT
    t.root_sku,
    b.parent_sku,
    b.component_sku,
    t.cumulative_qty * CAST(b.quantity_per AS NUMERIC),
    t.level + 1,
    CONCAT(t.path, '>', b.component_sku)
  FROM bom_tree AS t
  JOIN manufacturing.bom_lines AS b
    ON b.parent_sku = t.component_sku
   AND b.valid_to IS NULL
  WHERE t.level < 12
    AND STRPOS(t.path, CONCAT('>', b.component_sku)) = 0   -- cycle guard
)
SELECT
  t.root_sku,
  t.component_sku,
  MAX(t.level) AS max_depth,
  SUM(t.cumulative_qty) AS total_qty_per_unit,
  ANY_VALUE(c.standard_cost) AS component_unit_cost,
  ROUND(SUM(t.cumulative_qty) * ANY_VALUE(c.standard_cost), 4) AS extended_cost,
  LOGICAL_OR(c.is_long_lead_time) AS long_lead_time,
  ARRAY_AGG(t.path ORDER BY t.level LIMIT 3) AS sample_paths
FROM bom_tree AS t
LEFT JOIN manufacturing.items AS c
  ON c.sku = t.component_sku
WHERE NOT EXISTS (
  SELECT 1 FROM manufacturing.bom_lines AS sub
  WHERE sub.parent_sku = t.component_sku AND sub.valid_to IS NULL
)   -- leaf components only
GROUP BY t.root_sku, t.component_sku
ORDER BY t.root_sku, extended_cost DESC
