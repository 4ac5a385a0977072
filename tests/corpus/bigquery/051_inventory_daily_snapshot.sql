-- Daily inventory position per SKU x warehouse, rebuilt from movements.
-- Includes days-of-cover, stockout flags and aged inventory buckets (FIFO layers).
-- The movements table is the system of record; snapshots are derived here.

WITH params AS (
  SELECT
    DATE_SUB(CURRENT_DATE('Europe/Amsterdam'), INTERVAL 1 DAY) AS as_of_date,
    DATE_SUB(CURRENT_DATE('Europe/Amsterdam'), INTERVAL 181 DAY) AS history_start
),

movements AS (
  SELECT
    m.sku,
    m.warehouse_code,
    DATE(m.movement_ts, 'Europe/Amsterdam') AS movement_date,
    m.movement_type,
    m.quantity,
    m.unit_cost_eur,
    m.lot_id,
    m.reference_id
  FROM `wms-prod.inventory.stock_movements` AS m, params AS p
  WHERE DATE(m.movement_ts, 'Europe/Amsterdam') <= p.as_of_date
    AND m.is_reversed = FALSE
),

signed AS (
  SELECT
    *,
    CASE movement_type
      WHEN 'receipt' THEN quantity
      WHEN 'return_to_stock' THEN quantity
      WHEN 'transfer_in' THEN quantity
      WHEN 'adjustment_plus' THEN quantity
      WHEN 'shipment' THEN -quantity
      WHEN 'transfer_out' THEN -quantity
      WHEN 'adjustment_minus' THEN -quantity
      WHEN 'scrap' THEN -quantity
      ELSE 0
    END AS signed_qty
  FROM movements
),

on_hand AS (
  SELECT
    sku,
    warehouse_code,
    SUM(signed_qty) AS on_hand_qty,
    SUM(IF(signed_qty > 0 AND movement_type = 'receipt', signed_qty * unit_cost_eur, 0))
      / NULLIF(SUM(IF(signed_qty > 0 AND movement_type = 'receipt', signed_qty, 0)), 0) AS avg_receipt_cost_eur,
    MAX(IF(movement_type = 'receipt', movement_date, NULL)) AS last_receipt_date,
    MAX(IF(movement_type = 'shipment', movement_date, NULL)) AS last_shipment_date
  FROM signed
  GROUP BY sku, warehouse_code
),

demand AS (
  SELECT
    s.sku,
    s.warehouse_code,
    SUM(IF(s.movement_date > DATE_SUB(p.as_of_date, INTERVAL 28 DAY) AND s.movement_type = 'shipment', s.quantity, 0)) / 28 AS avg_daily_demand_28d,
    SUM(IF(s.movement_date > DATE_SUB(p.as_of_date, INTERVAL 7 DAY) AND s.movement_type = 'shipment', s.quantity, 0)) / 7 AS avg_daily_demand_7d,
    STDDEV(IF(s.movement_type = 'shipment', s.quantity, NULL)) AS sd_shipment_qty
  FROM signed AS s, params AS p
  WHERE s.movement_date > p.history_start
  GROUP BY s.sku, s.warehouse_code
),

-- FIFO ageing: allocate remaining on-hand quantity to the most recent receipts first
receipts AS (
  SELECT
    sku,
    warehouse_code,
    movement_date AS receipt_date,
    quantity AS receipt_qty,
    SUM(quantity) OVER (
      PARTITION BY sku, warehouse_code
      ORDER BY movement_date DESC, lot_id DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS cum_qty_newest_first
  FROM signed
  WHERE movement_type = 'receipt'
),

layers AS (
  SELECT
    r.sku,
    r.warehouse_code,
    r.receipt_date,
    GREATEST(
      0,
      LEAST(r.receipt_qty, oh.on_hand_qty - (r.cum_qty_newest_first - r.receipt_qty))
    ) AS qty_in_layer
  FROM receipts AS r
  JOIN on_hand AS oh USING (sku, warehouse_code)
  WHERE oh.on_hand_qty > 0
),

ageing AS (
  SELECT
    l.sku,
    l.warehouse_code,
    SUM(IF(DATE_DIFF(p.as_of_date, l.receipt_date, DAY) <= 30, l.qty_in_layer, 0)) AS qty_age_0_30,
    SUM(IF(DATE_DIFF(p.as_of_date, l.receipt_date, DAY) BETWEEN 31 AND 90, l.qty_in_layer, 0)) AS qty_age_31_90,
    SUM(IF(DATE_DIFF(p.as_of_date, l.receipt_date, DAY) BETWEEN 91 AND 180, l.qty_in_layer, 0)) AS qty_age_91_180,
    SUM(IF(DATE_DIFF(p.as_of_date, l.receipt_date, DAY) > 180, l.qty_in_layer, 0)) AS qty_age_180_plus
  FROM layers AS l, params AS p
  WHERE l.qty_in_layer > 0
  GROUP BY l.sku, l.warehouse_code
),

open_pos AS (
  SELECT
    sku,
    warehouse_code,
    SUM(ordered_qty - received_qty) AS inbound_qty,
    MIN(expected_arrival_date) AS next_arrival_date
  FROM `wms-prod.purchasing.purchase_order_lines`
  WHERE status IN ('open', 'partially_received')
  GROUP BY sku, warehouse_code
),

reserved AS (
  SELECT sku, warehouse_code, SUM(quantity) AS reserved_qty
  FROM `wms-prod.inventory.reservations`
  WHERE released_at IS NULL
    AND expires_at > CURRENT_TIMESTAMP()
  GROUP BY sku, warehouse_code
),

products AS (
  SELECT
    sku,
    product_name,
    brand,
    category,
    lead_time_days,
    min_order_qty,
    is_perishable,
    shelf_life_days
  FROM `wms-prod.catalog.products`
)

SELECT
  p.as_of_date AS snapshot_date,
  oh.sku,
  pr.product_name,
  pr.brand,
  pr.category,
  oh.warehouse_code,
  oh.on_hand_qty,
  IFNULL(rs.reserved_qty, 0) AS reserved_qty,
  oh.on_hand_qty - IFNULL(rs.reserved_qty, 0) AS available_qty,
  IFNULL(po.inbound_qty, 0) AS inbound_qty,
  po.next_arrival_date,
  ROUND(oh.avg_receipt_cost_eur, 4) AS avg_unit_cost_eur,
  ROUND(oh.on_hand_qty * oh.avg_receipt_cost_eur, 2) AS inventory_value_eur,
  ROUND(d.avg_daily_demand_28d, 3) AS avg_daily_demand_28d,
  ROUND(d.avg_daily_demand_7d, 3) AS avg_daily_demand_7d,
  ROUND(SAFE_DIVIDE(oh.on_hand_qty - IFNULL(rs.reserved_qty, 0), d.avg_daily_demand_28d), 1) AS days_of_cover,
  -- reorder point with a simple safety stock (z = 1.65, ~95% service level)
  CEIL(d.avg_daily_demand_28d * pr.lead_time_days + 1.65 * IFNULL(d.sd_shipment_qty, 0) * SQRT(pr.lead_time_days)) AS reorder_point,
  oh.on_hand_qty - IFNULL(rs.reserved_qty, 0) + IFNULL(po.inbound_qty, 0)
    < CEIL(d.avg_daily_demand_28d * pr.lead_time_days + 1.65 * IFNULL(d.sd_shipment_qty, 0) * SQRT(pr.lead_time_days)) AS needs_reorder,
  oh.on_hand_qty <= 0 AS is_stockout,
  oh.on_hand_qty < 0 AS is_negative_stock,
  IFNULL(a.qty_age_0_30, 0) AS qty_age_0_30,
  IFNULL(a.qty_age_31_90, 0) AS qty_age_31_90,
  IFNULL(a.qty_age_91_180, 0) AS qty_age_91_180,
  IFNULL(a.qty_age_180_plus, 0) AS qty_age_180_plus,
  pr.is_perishable AND IFNULL(a.qty_age_91_180, 0) + IFNULL(a.qty_age_180_plus, 0) > 0 AS perishable_ageing_risk,
  oh.last_receipt_date,
  oh.last_shipment_date,
  DATE_DIFF(p.as_of_date, oh.last_shipment_date, DAY) AS days_since_last_sale
FROM on_hand AS oh
CROSS JOIN params AS p
LEFT JOIN demand AS d USING (sku, warehouse_code)
LEFT JOIN ageing AS a USING (sku, warehouse_code)
LEFT JOIN open_pos AS po USING (sku, warehouse_code)
LEFT JOIN reserved AS rs USING (sku, warehouse_code)
LEFT JOIN products AS pr USING (sku)
WHERE oh.on_hand_qty != 0
   OR IFNULL(po.inbound_qty, 0) > 0
