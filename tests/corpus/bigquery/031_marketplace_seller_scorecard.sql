-- Weekly seller scorecard: GMV, cancellation, late shipment and rating metrics.
SELECT
  DATE_TRUNC(o.order_date, WEEK(MONDAY)) AS week_start,
  o.primary_seller_id AS seller_id,
  s.seller_tier,
  COUNT(*) AS orders,
  ROUND(SUM(o.nmv_usd), 2) AS gmv_usd,
  COUNTIF(o.order_status = 'cancelled') AS cancelled,
  ROUND(SAFE_DIVIDE(COUNTIF(o.order_status = 'cancelled'), COUNT(*)), 4) AS cancel_rate,
  ROUND(SAFE_DIVIDE(COUNTIF(o.hours_to_ship > 48), COUNTIF(o.hours_to_ship IS NOT NULL)), 4) AS late_ship_rate,
  ROUND(SAFE_DIVIDE(COUNTIF(o.has_refund), COUNT(*)), 4) AS refund_rate,
  ROUND(AVG(r.rating), 2) AS avg_rating,
  COUNT(r.review_id) AS reviews,
  COUNTIF(r.rating <= 2) AS negative_reviews
FROM marts.fct_marketplace_orders AS o
LEFT JOIN core.reviews AS r
  ON r.order_id = o.order_id
LEFT JOIN core.sellers AS s
  ON s.seller_id = o.primary_seller_id
WHERE o.order_date >= DATE_SUB(DATE_TRUNC(CURRENT_DATE(), WEEK(MONDAY)), INTERVAL 12 WEEK)
  AND o.order_date < DATE_TRUNC(CURRENT_DATE(), WEEK(MONDAY))
GROUP BY week_start, seller_id, s.seller_tier
HAVING orders >= 5
ORDER BY week_start DESC, gmv_usd DESC
