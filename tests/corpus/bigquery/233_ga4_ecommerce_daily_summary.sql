-- Daily ecommerce KPI summary from GA4 (web + app streams), used for the morning email.
-- Sessions are keyed on user_pseudo_id + ga_session_id; revenue from purchase events.
WITH events AS (
  SELECT
    PARSE_DATE('%Y%m%d', event_date) AS d,
    stream_id,
    platform,
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    event_name,
    ecommerce.transaction_id,
    ecommerce.purchase_revenue_in_usd,
    ecommerce.tax_value_in_usd,
    ecommerce.shipping_value_in_usd,
    ecommerce.total_item_quantity,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'coupon') AS coupon,
    device.category AS device_category
  FROM `analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 15 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
),

purchases AS (
  -- de-duplicate purchases that fire twice on the thank-you page
  SELECT *
  FROM events
  WHERE event_name = 'purchase'
    AND transaction_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY transaction_id ORDER BY d) = 1
),

sessions AS (
  SELECT
    d,
    platform,
    device_category,
    COUNT(DISTINCT CONCAT(user_pseudo_id, '.', CAST(session_id AS STRING))) AS sessions,
    COUNT(DISTINCT user_pseudo_id) AS users,
    COUNT(DISTINCT IF(event_name = 'add_to_cart', CONCAT(user_pseudo_id, '.', CAST(session_id AS STRING)), NULL)) AS cart_sessions,
    COUNT(DISTINCT IF(event_name = 'begin_checkout', CONCAT(user_pseudo_id, '.', CAST(session_id AS STRING)), NULL)) AS checkout_sessions
  FROM events
  GROUP BY 1, 2, 3
),

revenue AS (
  SELECT
    d,
    platform,
    device_category,
    COUNT(*) AS orders,
    SUM(purchase_revenue_in_usd) AS revenue,
    SUM(IFNULL(tax_value_in_usd, 0)) AS tax,
    SUM(IFNULL(shipping_value_in_usd, 0)) AS shipping,
    SUM(total_item_quantity) AS units,
    COUNTIF(coupon IS NOT NULL AND coupon != '(not set)') AS orders_with_coupon
  FROM purchases
  GROUP BY 1, 2, 3
)

SELECT
  s.d,
  s.platform,
  s.device_category,
  s.sessions,
  s.users,
  s.cart_sessions,
  s.checkout_sessions,
  IFNULL(r.orders, 0) AS orders,
  ROUND(IFNULL(r.revenue, 0), 2) AS revenue,
  ROUND(IFNULL(r.tax, 0), 2) AS tax,
  ROUND(IFNULL(r.shipping, 0), 2) AS shipping,
  IFNULL(r.units, 0) AS units,
  ROUND(SAFE_DIVIDE(r.orders, s.sessions) * 100, 3) AS conversion_rate_pct,
  ROUND(SAFE_DIVIDE(r.revenue, r.orders), 2) AS aov,
  ROUND(SAFE_DIVIDE(r.units, r.orders), 2) AS units_per_order,
  ROUND(SAFE_DIVIDE(s.checkout_sessions, s.cart_sessions), 4) AS cart_to_checkout,
  ROUND(SAFE_DIVIDE(r.orders, s.checkout_sessions), 4) AS checkout_to_order,
  ROUND(SAFE_DIVIDE(r.orders_with_coupon, r.orders), 4) AS coupon_share,
  -- same weekday last week
  LAG(IFNULL(r.revenue, 0), 7) OVER (PARTITION BY s.platform, s.device_category ORDER BY s.d) AS revenue_same_day_last_week,
  ROUND(SAFE_DIVIDE(
    IFNULL(r.revenue, 0),
    LAG(IFNULL(r.revenue, 0), 7) OVER (PARTITION BY s.platform, s.device_category ORDER BY s.d)
  ) - 1, 4) AS revenue_wow
FROM sessions AS s
LEFT JOIN revenue AS r USING (d, platform, device_category)
WHERE s.d >= DATE_SUB(CURRENT_DATE(), INTERVAL 8 DAY)
ORDER BY s.d DESC, s.platform, s.device_category
