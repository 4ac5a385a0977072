-- Correlated comma join over a repeated field: one row per order line with order context.
-- Grain: one row per line item (and per line-level discount, if any).
-- Order-level discounts are excluded (scope = 'line').
SELECT
  o.order_id,
  o.buyer_id,
  DATE(o.created_at) AS order_date,
  li.sku,
  li.quantity,
  li.unit_price_minor / 100 AS unit_price,
  li.quantity * li.unit_price_minor / 100 AS line_total,
  discount.code AS line_discount_code,
  discount.amount_minor / 100 AS line_discount
FROM `mkt-data-prod.raw_orders.orders` AS o,
  o.line_items AS li
LEFT JOIN li.discounts AS discount
  ON discount.scope = 'line'
WHERE DATE(o.created_at) = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  AND li.quantity > 0
ORDER BY o.order_id, li.sku
