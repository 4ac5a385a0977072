-- Market basket analysis: product-pair affinity (support, confidence, lift) at category and SKU level,
-- restricted to the last 90 days of in-store and online baskets. Used for cross-sell placements.
--
-- support    = P(A and B)
-- confidence = P(B | A)
-- lift       = P(A and B) / (P(A) * P(B)); > 1 means the pair co-occurs more than by chance
-- Thresholds: SKU pairs need >= 20 co-occurring baskets and lift >= 1.5.

WITH baskets AS (
  SELECT
    t.transaction_id,
    t.channel,
    t.store_id,
    DATE(t.transaction_ts) AS txn_date,
    ARRAY_AGG(DISTINCT li.sku IGNORE NULLS) AS skus,
    ARRAY_AGG(DISTINCT p.category_l2 IGNORE NULLS) AS categories
  FROM `retail-ops.pos.transactions` AS t
  CROSS JOIN UNNEST(t.line_items) AS li
  JOIN `retail-ops.catalog.products` AS p
    ON p.sku = li.sku
  WHERE t.transaction_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
    AND NOT t.is_return
    AND li.quantity > 0
    AND p.category_l1 NOT IN ('Bags', 'Gift Cards', 'Services')
  GROUP BY t.transaction_id, t.channel, t.store_id, txn_date
  HAVING ARRAY_LENGTH(skus) BETWEEN 2 AND 40   -- skip singletons and bulk/business baskets
),

basket_count AS (
  SELECT COUNT(*) AS n_baskets FROM baskets
),

sku_support AS (
  SELECT
    sku,
    COUNT(*) AS baskets_with_sku
  FROM baskets, UNNEST(skus) AS sku
  GROUP BY sku
  HAVING COUNT(*) >= 50
),

sku_pairs AS (
  SELECT
    a AS sku_a,
    b AS sku_b,
    COUNT(*) AS baskets_with_pair
  FROM baskets,
    UNNEST(skus) AS a,
    UNNEST(skus) AS b
  WHERE a < b
  GROUP BY a, b
  HAVING COUNT(*) >= 20
),

sku_rules AS (
  SELECT
    sp.sku_a,
    sp.sku_b,
    sp.baskets_with_pair,
    sa.baskets_with_sku AS baskets_a,
    sb.baskets_with_sku AS baskets_b,
    sp.baskets_with_pair / bc.n_baskets AS support,
    sp.baskets_with_pair / sa.baskets_with_sku AS confidence_a_to_b,
    sp.baskets_with_pair / sb.baskets_with_sku AS confidence_b_to_a,
    (sp.baskets_with_pair / bc.n_baskets)
      / ((sa.baskets_with_sku / bc.n_baskets) * (sb.baskets_with_sku / bc.n_baskets)) AS lift
  FROM sku_pairs AS sp
  JOIN sku_support AS sa ON sa.sku = sp.sku_a
  JOIN sku_support AS sb ON sb.sku = sp.sku_b
  CROSS JOIN basket_count AS bc
),

category_pairs AS (
  SELECT
    a AS category_a,
    b AS category_b,
    COUNT(*) AS baskets_with_pair
  FROM baskets,
    UNNEST(categories) AS a,
    UNNEST(categories) AS b
  WHERE a < b
  GROUP BY a, b
),

category_support AS (
  SELECT category, COUNT(*) AS baskets_with_category
  FROM baskets, UNNEST(categories) AS category
  GROUP BY category
),

category_rules AS (
  SELECT
    cp.category_a,
    cp.category_b,
    cp.baskets_with_pair,
    cp.baskets_with_pair / bc.n_baskets AS support,
    (cp.baskets_with_pair / bc.n_baskets)
      / ((ca.baskets_with_category / bc.n_baskets) * (cb.baskets_with_category / bc.n_baskets)) AS lift
  FROM category_pairs AS cp
  JOIN category_support AS ca ON ca.category = cp.category_a
  JOIN category_support AS cb ON cb.category = cp.category_b
  CROSS JOIN basket_count AS bc
),

products AS (
  SELECT sku, product_name, category_l2, brand, price_eur
  FROM `retail-ops.catalog.products`
)

SELECT
  'sku' AS level,
  r.sku_a AS item_a,
  pa.product_name AS item_a_name,
  r.sku_b AS item_b,
  pb.product_name AS item_b_name,
  pa.category_l2 = pb.category_l2 AS same_category,
  pa.brand = pb.brand AS same_brand,
  r.baskets_with_pair,
  ROUND(r.support, 6) AS support,
  ROUND(r.confidence_a_to_b, 4) AS confidence_a_to_b,
  ROUND(r.confidence_b_to_a, 4) AS confidence_b_to_a,
  ROUND(r.lift, 3) AS lift,
  ROUND(ABS(pa.price_eur - pb.price_eur), 2) AS price_gap_eur,
  RANK() OVER (PARTITION BY r.sku_a ORDER BY r.lift DESC) AS rank_for_item_a
FROM sku_rules AS r
JOIN products AS pa ON pa.sku = r.sku_a
JOIN products AS pb ON pb.sku = r.sku_b
WHERE r.lift >= 1.5

UNION ALL

SELECT
  'category',
  c.category_a,
  c.category_a,
  c.category_b,
  c.category_b,
  FALSE,
  CAST(NULL AS BOOL),
  c.baskets_with_pair,
  ROUND(c.support, 6),
  CAST(NULL AS FLOAT64),
  CAST(NULL AS FLOAT64),
  ROUND(c.lift, 3),
  CAST(NULL AS FLOAT64),
  RANK() OVER (PARTITION BY c.category_a ORDER BY c.lift DESC)
FROM category_rules AS c
WHERE c.baskets_with_pair >= 100

ORDER BY level DESC, lift DESC
