-- Competitive price index: our shelf price vs scraped competitor prices per SKU and day,
-- with category-level index, price-position buckets and matched-SKU coverage.
-- Competitor observations are de-duplicated (last observation per competitor per day).

WITH our_prices AS (
  SELECT
    p.sku,
    p.price_date,
    p.shelf_price_eur,
    p.promo_price_eur,
    COALESCE(p.promo_price_eur, p.shelf_price_eur) AS effective_price_eur,
    p.promo_price_eur IS NOT NULL AS on_promo
  FROM catalog.daily_prices AS p
  WHERE p.price_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 28 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
),

matches AS (
  SELECT
    m.sku,
    m.competitor,
    m.competitor_product_url,
    m.match_confidence
  FROM competitive.product_matches AS m
  WHERE m.match_confidence >= 0.85
    AND m.is_active
),

observations AS (
  SELECT
    o.competitor,
    o.competitor_product_url,
    DATE(o.observed_at, 'Europe/Berlin') AS price_date,
    o.price_eur,
    o.in_stock,
    o.shipping_eur
  FROM competitive.scraped_prices AS o
  WHERE o.observed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 29 DAY)
    AND o.price_eur > 0
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY o.competitor, o.competitor_product_url, DATE(o.observed_at, 'Europe/Berlin')
    ORDER BY o.observed_at DESC
  ) = 1
),

competitor_prices AS (
  SELECT
    m.sku,
    ob.price_date,
    m.competitor,
    ob.price_eur + IFNULL(ob.shipping_eur, 0) AS landed_price_eur,
    ob.in_stock
  FROM matches AS m
  JOIN observations AS ob USING (competitor, competitor_product_url)
),

-- drop obvious scraping errors: prices more than 3x or less than 1/3 of our price
cleaned AS (
  SELECT cp.*
  FROM competitor_prices AS cp
  JOIN our_prices AS op USING (sku, price_date)
  WHERE cp.landed_price_eur BETWEEN op.effective_price_eur / 3 AND op.effective_price_eur * 3
),

sku_day AS (
  SELECT
    op.sku,
    op.price_date,
    op.effective_price_eur,
    op.on_promo,
    COUNT(c.competitor) AS competitors_observed,
    COUNTIF(c.in_stock) AS competitors_in_stock,
    MIN(IF(c.in_stock, c.landed_price_eur, NULL)) AS min_competitor_price,
    APPROX_QUANTILES(IF(c.in_stock, c.landed_price_eur, NULL), 2 IGNORE NULLS)[SAFE_OFFSET(1)] AS median_competitor_price,
    ARRAY_AGG(
      STRUCT(c.competitor, ROUND(c.landed_price_eur, 2) AS price, c.in_stock)
      ORDER BY c.landed_price_eur
      LIMIT 5
    ) AS cheapest_competitors
  FROM our_prices AS op
  LEFT JOIN cleaned AS c USING (sku, price_date)
  GROUP BY op.sku, op.price_date, op.effective_price_eur, op.on_promo
),

products AS (
  SELECT sku, product_name, brand, category_l1, category_l2, is_private_label
  FROM catalog.products
),

revenue_weights AS (
  SELECT sku, SUM(net_revenue_eur) AS revenue_28d
  FROM sales.daily_sku_sales
  WHERE sale_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 28 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  GROUP BY sku
)

SELECT
  sd.price_date,
  p.category_l1,
  p.category_l2,
  COUNT(*) AS skus,
  COUNTIF(sd.competitors_in_stock > 0) AS matched_skus,
  ROUND(SAFE_DIVIDE(COUNTIF(sd.competitors_in_stock > 0), COUNT(*)), 4) AS match_coverage,
  -- revenue-weighted price index: 100 = at median competitor price
  ROUND(100 * SAFE_DIVIDE(
    SUM(IF(sd.median_competitor_price IS NOT NULL, sd.effective_price_eur * rw.revenue_28d, 0)),
    SUM(IF(sd.median_competitor_price IS NOT NULL, sd.median_competitor_price * rw.revenue_28d, 0))
  ), 2) AS price_index_vs_median,
  ROUND(100 * SAFE_DIVIDE(
    SUM(IF(sd.min_competitor_price IS NOT NULL, sd.effective_price_eur * rw.revenue_28d, 0)),
    SUM(IF(sd.min_competitor_price IS NOT NULL, sd.min_competitor_price * rw.revenue_28d, 0))
  ), 2) AS price_index_vs_cheapest,
  COUNTIF(sd.effective_price_eur < sd.min_competitor_price) AS skus_cheapest,
  COUNTIF(sd.effective_price_eur > sd.median_competitor_price * 1.05) AS skus_over_5pct_above_median,
  COUNTIF(sd.on_promo) AS skus_on_promo,
  COUNTIF(p.is_private_label) AS private_label_skus,
  ARRAY_AGG(
    IF(sd.effective_price_eur > sd.median_competitor_price * 1.10,
       STRUCT(sd.sku, p.product_name, sd.effective_price_eur, sd.median_competitor_price),
       NULL)
    IGNORE NULLS
    ORDER BY rw.revenue_28d DESC
    LIMIT 10
  ) AS top_overpriced_skus
FROM sku_day AS sd
JOIN products AS p USING (sku)
LEFT JOIN revenue_weights AS rw USING (sku)
GROUP BY sd.price_date, p.category_l1, p.category_l2
ORDER BY sd.price_date DESC, p.category_l1, p.category_l2
