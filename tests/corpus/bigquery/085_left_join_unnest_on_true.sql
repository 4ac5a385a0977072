-- Keep orders with no coupons (LEFT JOIN UNNEST ... ON TRUE) while exploding applied coupons.
-- LEFT JOIN keeps orders without coupons (one row with NULL coupon columns).
-- Window sums give per-order totals without a second aggregation step.
-- Coupon position is the order in which coupons were applied at checkout.
SELECT
  o.order_id,
  o.created_at,
  o.subtotal,
  cp.code AS coupon_code,
  cp.discount_type,
  cp.discount_amount,
  cp_offset AS coupon_position,
  COUNT(cp.code) OVER (PARTITION BY o.order_id) AS coupons_on_order,
  IFNULL(SUM(cp.discount_amount) OVER (PARTITION BY o.order_id), 0) AS total_discount,
  cp.code IS NULL AS no_coupon
FROM `acme-dw.commerce.orders` AS o
LEFT JOIN UNNEST(o.applied_coupons) AS cp WITH OFFSET AS cp_offset ON TRUE
WHERE o.created_at >= TIMESTAMP '2024-06-01'
  AND o.created_at < TIMESTAMP '2024-07-01'
ORDER BY o.order_id, coupon_position
