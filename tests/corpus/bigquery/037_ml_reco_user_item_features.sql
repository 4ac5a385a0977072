-- Recommendation model: user x item candidate features (re-ranker training data).
-- Positive = purchase or add-to-cart within 7 days after impression; negatives sampled 1:4.
-- Dates are literal so the job is reproducible for a given training window.

WITH impressions AS (
  SELECT
    i.user_id,
    i.item_id,
    i.impression_id,
    i.shown_at,
    i.surface,
    i.slot_position
  FROM reco_logs.impressions AS i
  WHERE i.shown_at >= TIMESTAMP '2024-05-01' AND i.shown_at < TIMESTAMP '2024-06-01'
    AND i.surface IN ('home_feed', 'pdp_similar', 'cart_upsell')
),

interactions AS (
  SELECT
    user_id,
    item_id,
    event_type,
    event_at
  FROM reco_logs.interactions
  WHERE event_at >= TIMESTAMP '2024-02-01' AND event_at < TIMESTAMP '2024-06-08'
),

labelled AS (
  SELECT
    imp.*,
    EXISTS (
      SELECT 1
      FROM interactions AS x
      WHERE x.user_id = imp.user_id
        AND x.item_id = imp.item_id
        AND x.event_type IN ('purchase', 'add_to_cart')
        AND x.event_at BETWEEN imp.shown_at AND TIMESTAMP_ADD(imp.shown_at, INTERVAL 7 DAY)
    ) AS label
  FROM impressions AS imp
),

sampled AS (
  SELECT *
  FROM labelled
  WHERE label
     OR MOD(ABS(FARM_FINGERPRINT(impression_id)), 100) < 8
),

user_history AS (
  -- aggregates strictly before the training window to avoid leakage
  SELECT
    user_id,
    COUNTIF(event_type = 'view') AS views_90d,
    COUNTIF(event_type = 'add_to_cart') AS carts_90d,
    COUNTIF(event_type = 'purchase') AS purchases_90d,
    COUNT(DISTINCT item_id) AS distinct_items_90d,
    MAX(event_at) AS last_event_at,
    ARRAY_AGG(item_id ORDER BY event_at DESC LIMIT 20) AS recent_items
  FROM interactions
  WHERE event_at < TIMESTAMP '2024-05-01'
  GROUP BY user_id
),

items AS (
  SELECT
    item_id,
    category_l1,
    category_l2,
    brand,
    price_usd,
    created_at AS item_created_at,
    ARRAY_LENGTH(image_urls) AS n_images,
    rating_avg,
    rating_count
  FROM catalog.items
  WHERE is_active
),

item_popularity AS (
  SELECT
    item_id,
    COUNTIF(event_type = 'view') AS item_views_30d,
    COUNTIF(event_type = 'purchase') AS item_purchases_30d,
    SAFE_DIVIDE(COUNTIF(event_type = 'purchase'), COUNTIF(event_type = 'view')) AS item_cvr_30d,
    APPROX_COUNT_DISTINCT(user_id) AS item_unique_users_30d
  FROM interactions
  WHERE event_at BETWEEN TIMESTAMP '2024-04-01' AND TIMESTAMP '2024-05-01'
  GROUP BY item_id
),

user_category_affinity AS (
  SELECT
    x.user_id,
    it.category_l1,
    COUNT(*) AS cat_events,
    SUM(CASE x.event_type WHEN 'purchase' THEN 5 WHEN 'add_to_cart' THEN 3 ELSE 1 END) AS cat_score
  FROM interactions AS x
  JOIN items AS it USING (item_id)
  WHERE x.event_at < TIMESTAMP '2024-05-01'
  GROUP BY x.user_id, it.category_l1
),

user_category_norm AS (
  SELECT
    user_id,
    category_l1,
    SAFE_DIVIDE(cat_score, SUM(cat_score) OVER (PARTITION BY user_id)) AS cat_share,
    RANK() OVER (PARTITION BY user_id ORDER BY cat_score DESC) AS cat_rank
  FROM user_category_affinity
),

user_price AS (
  SELECT
    x.user_id,
    APPROX_QUANTILES(it.price_usd, 4) AS price_quartiles,
    AVG(it.price_usd) AS avg_viewed_price
  FROM interactions AS x
  JOIN items AS it USING (item_id)
  WHERE x.event_at < TIMESTAMP '2024-05-01'
    AND x.event_type IN ('view', 'purchase')
  GROUP BY x.user_id
),

brand_affinity AS (
  SELECT
    x.user_id,
    it.brand,
    COUNT(*) AS brand_events
  FROM interactions AS x
  JOIN items AS it USING (item_id)
  WHERE x.event_at < TIMESTAMP '2024-05-01'
  GROUP BY x.user_id, it.brand
)

SELECT
  s.impression_id,
  s.user_id,
  s.item_id,
  s.surface,
  s.slot_position,
  s.shown_at,
  CAST(s.label AS INT64) AS label,
  -- user features
  IFNULL(uh.views_90d, 0) AS u_views_90d,
  IFNULL(uh.carts_90d, 0) AS u_carts_90d,
  IFNULL(uh.purchases_90d, 0) AS u_purchases_90d,
  IFNULL(uh.distinct_items_90d, 0) AS u_distinct_items_90d,
  TIMESTAMP_DIFF(s.shown_at, uh.last_event_at, HOUR) AS u_hours_since_last_event,
  s.item_id IN UNNEST(IFNULL(uh.recent_items, [])) AS u_recently_interacted_item,
  -- item features
  it.category_l1,
  it.category_l2,
  it.brand,
  it.price_usd,
  LN(1 + it.price_usd) AS log_price,
  DATE_DIFF(DATE(s.shown_at), DATE(it.item_created_at), DAY) AS item_age_days,
  it.n_images,
  it.rating_avg,
  it.rating_count,
  IFNULL(ip.item_views_30d, 0) AS i_views_30d,
  IFNULL(ip.item_purchases_30d, 0) AS i_purchases_30d,
  ip.item_cvr_30d AS i_cvr_30d,
  IFNULL(ip.item_unique_users_30d, 0) AS i_unique_users_30d,
  -- cross features
  IFNULL(uc.cat_share, 0) AS ux_category_share,
  IFNULL(uc.cat_rank, 99) AS ux_category_rank,
  IFNULL(ba.brand_events, 0) AS ux_brand_events,
  SAFE_DIVIDE(it.price_usd, up.avg_viewed_price) AS ux_price_ratio,
  CASE
    WHEN up.price_quartiles IS NULL THEN NULL
    WHEN it.price_usd <= up.price_quartiles[OFFSET(1)] THEN 1
    WHEN it.price_usd <= up.price_quartiles[OFFSET(2)] THEN 2
    WHEN it.price_usd <= up.price_quartiles[OFFSET(3)] THEN 3
    ELSE 4
  END AS ux_price_quartile,
  -- split
  IF(MOD(ABS(FARM_FINGERPRINT(s.user_id)), 10) = 0, 'eval', 'train') AS split
FROM sampled AS s
JOIN items AS it USING (item_id)
LEFT JOIN user_history AS uh USING (user_id)
LEFT JOIN item_popularity AS ip USING (item_id)
LEFT JOIN user_category_norm AS uc
  ON uc.user_id = s.user_id AND uc.category_l1 = it.category_l1
LEFT JOIN brand_affinity AS ba
  ON ba.user_id = s.user_id AND ba.brand = it.brand
LEFT JOIN user_price AS up
  ON up.user_id = s.user_id
