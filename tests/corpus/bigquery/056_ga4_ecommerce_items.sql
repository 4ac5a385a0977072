-- GA4 item-level ecommerce performance: views, list clicks, carts, purchases per item & list.
-- Uses the items[] array; item_list_name is attributed from the select_item event in the same session.

WITH item_events AS (
  SELECT
    PARSE_DATE('%Y%m%d', event_date) AS event_date,
    TIMESTAMP_MICROS(event_timestamp) AS event_ts,
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS ga_session_id,
    event_name,
    ecommerce.transaction_id,
    i.item_id,
    i.item_name,
    i.item_brand,
    i.item_category,
    i.item_category2,
    i.item_variant,
    i.item_list_name,
    i.item_list_index,
    i.price_in_usd,
    i.quantity,
    i.item_revenue_in_usd,
    i.promotion_name,
    i.creative_slot,
    item_offset
  FROM `acme-web-prod.analytics_287163540.events_*`
  CROSS JOIN UNNEST(items) AS i WITH OFFSET AS item_offset
  WHERE _TABLE_SUFFIX BETWEEN '20240601' AND '20240630'
    AND event_name IN (
      'view_item_list', 'select_item', 'view_item', 'add_to_cart', 'remove_from_cart',
      'begin_checkout', 'purchase', 'refund', 'view_promotion', 'select_promotion'
    )
),

keyed AS (
  SELECT
    *,
    CONCAT(user_pseudo_id, '-', CAST(ga_session_id AS STRING)) AS session_key
  FROM item_events
),

-- last list the item was selected from in the session, to attribute downstream events
list_attribution AS (
  SELECT
    session_key,
    item_id,
    event_ts AS selected_at,
    item_list_name,
    item_list_index
  FROM keyed
  WHERE event_name = 'select_item'
    AND item_list_name IS NOT NULL
    AND item_list_name != '(not set)'
),

attributed AS (
  SELECT
    k.* EXCEPT (item_list_name, item_list_index),
    COALESCE(
      IF(k.event_name IN ('view_item_list', 'select_item'), k.item_list_name, NULL),
      (
        SELECT la.item_list_name
        FROM list_attribution AS la
        WHERE la.session_key = k.session_key
          AND la.item_id = k.item_id
          AND la.selected_at <= k.event_ts
        ORDER BY la.selected_at DESC
        LIMIT 1
      ),
      '(direct)'
    ) AS attributed_list,
    IF(k.event_name IN ('view_item_list', 'select_item'), k.item_list_index, NULL) AS list_position
  FROM keyed AS k
),

item_dim AS (
  SELECT
    item_id,
    ARRAY_AGG(item_name IGNORE NULLS ORDER BY event_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS item_name,
    ARRAY_AGG(item_brand IGNORE NULLS ORDER BY event_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS item_brand,
    ARRAY_AGG(item_category IGNORE NULLS ORDER BY event_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS item_category,
    ARRAY_AGG(item_category2 IGNORE NULLS ORDER BY event_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS item_category2
  FROM keyed
  GROUP BY item_id
),

agg AS (
  SELECT
    item_id,
    attributed_list,
    COUNTIF(event_name = 'view_item_list') AS list_impressions,
    COUNTIF(event_name = 'select_item') AS list_clicks,
    AVG(IF(event_name = 'view_item_list', SAFE_CAST(list_position AS INT64), NULL)) AS avg_list_position,
    COUNTIF(event_name = 'view_item') AS item_views,
    COUNT(DISTINCT IF(event_name = 'view_item', session_key, NULL)) AS sessions_viewed,
    SUM(IF(event_name = 'add_to_cart', quantity, 0)) AS units_added,
    COUNT(DISTINCT IF(event_name = 'add_to_cart', session_key, NULL)) AS sessions_added,
    SUM(IF(event_name = 'remove_from_cart', quantity, 0)) AS units_removed,
    COUNT(DISTINCT IF(event_name = 'begin_checkout', session_key, NULL)) AS sessions_checkout,
    COUNT(DISTINCT IF(event_name = 'purchase', transaction_id, NULL)) AS transactions,
    SUM(IF(event_name = 'purchase', quantity, 0)) AS units_purchased,
    SUM(IF(event_name = 'purchase', item_revenue_in_usd, 0)) AS item_revenue_usd,
    SUM(IF(event_name = 'refund', item_revenue_in_usd, 0)) AS item_refunds_usd,
    AVG(IF(event_name = 'purchase', price_in_usd, NULL)) AS avg_price_usd,
    COUNTIF(event_name = 'view_promotion') AS promo_views,
    COUNTIF(event_name = 'select_promotion') AS promo_clicks
  FROM attributed
  GROUP BY item_id, attributed_list
)

SELECT
  a.item_id,
  d.item_name,
  d.item_brand,
  d.item_category,
  d.item_category2,
  a.attributed_list,
  a.list_impressions,
  a.list_clicks,
  ROUND(SAFE_DIVIDE(a.list_clicks, a.list_impressions), 4) AS list_ctr,
  ROUND(a.avg_list_position, 1) AS avg_list_position,
  a.item_views,
  a.sessions_viewed,
  a.units_added,
  a.sessions_added,
  a.units_removed,
  a.sessions_checkout,
  a.transactions,
  a.units_purchased,
  ROUND(a.item_revenue_usd, 2) AS item_revenue_usd,
  ROUND(a.item_refunds_usd, 2) AS item_refunds_usd,
  ROUND(a.avg_price_usd, 2) AS avg_price_usd,
  ROUND(SAFE_DIVIDE(a.sessions_added, a.sessions_viewed), 4) AS view_to_cart_rate,
  ROUND(SAFE_DIVIDE(a.transactions, a.sessions_viewed), 4) AS view_to_purchase_rate,
  ROUND(SAFE_DIVIDE(a.units_removed, a.units_added), 4) AS cart_removal_rate,
  a.promo_views,
  a.promo_clicks,
  RANK() OVER (PARTITION BY a.attributed_list ORDER BY a.item_revenue_usd DESC) AS revenue_rank_in_list,
  SAFE_DIVIDE(a.item_revenue_usd, SUM(a.item_revenue_usd) OVER (PARTITION BY d.item_category)) AS share_of_category_revenue,
  ROUND(SAFE_DIVIDE(a.units_purchased, a.transactions), 2) AS units_per_transaction,
  ROUND(SAFE_DIVIDE(a.item_refunds_usd, a.item_revenue_usd), 4) AS refund_rate,
  ROUND(SAFE_DIVIDE(a.promo_clicks, a.promo_views), 4) AS promo_ctr,
  CASE
    WHEN a.item_views >= 1000 AND SAFE_DIVIDE(a.transactions, a.sessions_viewed) < 0.005 THEN 'high_traffic_low_conversion'
    WHEN a.item_views < 100 AND SAFE_DIVIDE(a.transactions, a.sessions_viewed) > 0.05 THEN 'hidden_gem'
    ELSE NULL
  END AS merchandising_flag
FROM agg AS a
LEFT JOIN item_dim AS d USING (item_id)
WHERE a.item_views > 0 OR a.list_impressions > 0 OR a.transactions > 0
ORDER BY item_revenue_usd DESC
