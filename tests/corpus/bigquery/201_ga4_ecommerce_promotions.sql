-- Internal promotions (banners): views, clicks and attributed revenue by promotion & creative slot.
WITH promo_events AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    event_name,
    event_timestamp,
    i.promotion_id,
    i.promotion_name,
    i.creative_name,
    i.creative_slot
  FROM `acme-web-prod.analytics_287163540.events_*`,
    UNNEST(items) AS i
  WHERE _TABLE_SUFFIX BETWEEN '20240701' AND '20240731'
    AND event_name IN ('view_promotion', 'select_promotion')
    AND i.promotion_name IS NOT NULL
),
purchases AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    event_timestamp,
    ecommerce.purchase_revenue_in_usd AS revenue
  FROM `acme-web-prod.analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240701' AND '20240731'
    AND event_name = 'purchase'
)
SELECT
  p.promotion_name,
  p.creative_slot,
  COUNTIF(p.event_name = 'view_promotion') AS views,
  COUNTIF(p.event_name = 'select_promotion') AS clicks,
  ROUND(SAFE_DIVIDE(COUNTIF(p.event_name = 'select_promotion'), COUNTIF(p.event_name = 'view_promotion')), 4) AS ctr,
  ROUND(SUM(IF(p.event_name = 'select_promotion', (
    SELECT SUM(pu.revenue) FROM purchases AS pu
    WHERE pu.user_pseudo_id = p.user_pseudo_id
      AND pu.session_id = p.session_id
      AND pu.event_timestamp > p.event_timestamp
  ), 0)), 2) AS same_session_revenue_after_click
FROM promo_events AS p
GROUP BY p.promotion_name, p.creative_slot
ORDER BY clicks DESC
