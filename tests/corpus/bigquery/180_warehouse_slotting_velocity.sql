-- Slotting: ABC velocity class per SKU vs the zone it is currently slotted in.
WITH picks AS (
  SELECT sku, warehouse_code, SUM(quantity) AS units_28d, COUNT(*) AS pick_lines_28d
  FROM `wms-prod.operations.pick_events`
  WHERE pick_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 28 DAY)
  GROUP BY sku, warehouse_code
),
ranked AS (
  SELECT
    *,
    SUM(pick_lines_28d) OVER (PARTITION BY warehouse_code ORDER BY pick_lines_28d DESC
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      / SUM(pick_lines_28d) OVER (PARTITION BY warehouse_code) AS cum_share
  FROM picks
)
SELECT
  r.warehouse_code,
  r.sku,
  r.pick_lines_28d,
  r.units_28d,
  CASE WHEN r.cum_share <= 0.8 THEN 'A' WHEN r.cum_share <= 0.95 THEN 'B' ELSE 'C' END AS velocity_class,
  s.zone AS current_zone,
  s.bin_location,
  (CASE WHEN r.cum_share <= 0.8 THEN 'A' WHEN r.cum_share <= 0.95 THEN 'B' ELSE 'C' END) = 'A'
    AND s.zone NOT IN ('golden_zone', 'fast_pick') AS should_move_forward
FROM ranked AS r
LEFT JOIN `wms-prod.inventory.sku_slots` AS s USING (sku, warehouse_code)
ORDER BY r.warehouse_code, r.pick_lines_28d DESC
