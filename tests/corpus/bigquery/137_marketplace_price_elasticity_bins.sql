-- Conversion by price-to-category-median ratio (proxy for price competitiveness).
WITH listing_views AS (
  SELECT
    v.listing_id,
    l.category_id,
    l.price_eur,
    COUNT(*) AS views,
    COUNTIF(v.led_to_order) AS orders
  FROM events.listing_views AS v
  JOIN core.listings AS l USING (listing_id)
  WHERE v.viewed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
  GROUP BY 1, 2, 3
),
medians AS (
  SELECT category_id, APPROX_QUANTILES(price_eur, 2)[OFFSET(1)] AS median_price
  FROM listing_views
  GROUP BY category_id
)
SELECT
  RANGE_BUCKET(SAFE_DIVIDE(lv.price_eur, m.median_price), [0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0]) AS price_ratio_bucket,
  COUNT(DISTINCT lv.listing_id) AS listings,
  SUM(lv.views) AS views,
  SUM(lv.orders) AS orders,
  ROUND(SAFE_DIVIDE(SUM(lv.orders), SUM(lv.views)) * 100, 3) AS view_to_order_pct
FROM listing_views AS lv
JOIN medians AS m USING (category_id)
GROUP BY price_ratio_bucket
ORDER BY price_ratio_bucket
