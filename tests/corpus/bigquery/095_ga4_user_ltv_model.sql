-- GA4 user-level lifetime table (incremental-friendly full rebuild).
-- One row per user_pseudo_id with acquisition, engagement, monetisation and predicted-LTV inputs.
-- Acquisition fields come from traffic_source (first-user scope); engagement from events.

WITH base AS (
  SELECT
    user_pseudo_id,
    user_id,
    PARSE_DATE('%Y%m%d', event_date) AS event_date,
    TIMESTAMP_MICROS(event_timestamp) AS event_ts,
    TIMESTAMP_MICROS(user_first_touch_timestamp) AS first_touch_ts,
    event_name,
    traffic_source.source AS ft_source,
    traffic_source.medium AS ft_medium,
    traffic_source.name AS ft_campaign,
    device.category AS device_category,
    device.mobile_brand_name AS mobile_brand,
    device.language AS language,
    geo.country AS country,
    geo.continent AS continent,
    platform,
    ecommerce.purchase_revenue_in_usd AS revenue_usd,
    ecommerce.refund_value_in_usd AS refund_usd,
    ecommerce.transaction_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS ga_session_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'engagement_time_msec') AS engagement_time_msec,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'content_group') AS content_group,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'method') AS signup_method,
    user_ltv.revenue AS ga_ltv_revenue,
    user_ltv.currency AS ga_ltv_currency
  FROM `acme-web-prod.analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20230101' AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
    AND REGEXP_CONTAINS(_TABLE_SUFFIX, r'^\d{8}$')  -- exclude intraday tables
),

users AS (
  SELECT
    user_pseudo_id,
    MAX(user_id) AS user_id,
    MIN(first_touch_ts) AS first_touch_ts,
    MIN(event_date) AS first_seen_date,
    MAX(event_date) AS last_seen_date,
    -- first-user scope acquisition is stable per user, take any non-null
    ANY_VALUE(ft_source) AS first_user_source,
    ANY_VALUE(ft_medium) AS first_user_medium,
    ANY_VALUE(ft_campaign) AS first_user_campaign,
    ARRAY_AGG(device_category IGNORE NULLS ORDER BY event_ts LIMIT 1)[SAFE_OFFSET(0)] AS first_device_category,
    ARRAY_AGG(country IGNORE NULLS ORDER BY event_ts LIMIT 1)[SAFE_OFFSET(0)] AS first_country,
    ARRAY_AGG(country IGNORE NULLS ORDER BY event_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS latest_country,
    ANY_VALUE(continent) AS continent,
    ARRAY_AGG(language IGNORE NULLS ORDER BY event_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS latest_language,
    COUNT(DISTINCT platform) AS platforms_used,
    COUNT(DISTINCT device_category) AS device_categories_used,
    MAX(mobile_brand) AS any_mobile_brand
  FROM base
  GROUP BY user_pseudo_id
),

engagement AS (
  SELECT
    user_pseudo_id,
    COUNT(DISTINCT ga_session_id) AS sessions,
    COUNT(DISTINCT event_date) AS active_days,
    COUNTIF(event_name = 'page_view') AS pageviews,
    SUM(IFNULL(engagement_time_msec, 0)) / 60000 AS engaged_minutes,
    COUNT(DISTINCT content_group) AS content_groups_seen,
    APPROX_TOP_COUNT(content_group, 1)[SAFE_OFFSET(0)].value AS top_content_group,
    COUNTIF(event_name = 'sign_up') > 0 AS signed_up,
    ARRAY_AGG(signup_method IGNORE NULLS LIMIT 1)[SAFE_OFFSET(0)] AS signup_method,
    MIN(IF(event_name = 'sign_up', event_ts, NULL)) AS signed_up_at,
    COUNTIF(event_name = 'generate_lead') AS leads,
    COUNTIF(event_name = 'add_to_cart') AS add_to_carts
  FROM base
  GROUP BY user_pseudo_id
),

early_engagement AS (
  -- first 7 days after first touch: used as LTV predictors
  SELECT
    b.user_pseudo_id,
    COUNT(DISTINCT b.ga_session_id) AS sessions_d7,
    SUM(IFNULL(b.engagement_time_msec, 0)) / 60000 AS engaged_minutes_d7,
    COUNTIF(b.event_name = 'view_item') AS item_views_d7,
    COUNTIF(b.event_name = 'add_to_cart') AS add_to_carts_d7,
    SUM(IF(b.event_name = 'purchase', b.revenue_usd, 0)) AS revenue_d7
  FROM base AS b
  JOIN users AS u USING (user_pseudo_id)
  WHERE b.event_ts < TIMESTAMP_ADD(u.first_touch_ts, INTERVAL 7 DAY)
  GROUP BY b.user_pseudo_id
),

purchases AS (
  SELECT
    user_pseudo_id,
    transaction_id,
    MIN(event_ts) AS purchased_at,
    MAX(revenue_usd) AS revenue_usd
  FROM base
  WHERE event_name = 'purchase'
    AND transaction_id IS NOT NULL
    AND transaction_id != '(not set)'
  GROUP BY user_pseudo_id, transaction_id
),

monetisation AS (
  SELECT
    p.user_pseudo_id,
    COUNT(*) AS transactions,
    SUM(p.revenue_usd) AS gross_revenue_usd,
    MIN(p.purchased_at) AS first_purchase_at,
    MAX(p.purchased_at) AS last_purchase_at,
    AVG(p.revenue_usd) AS avg_order_value_usd,
    -- average gap between consecutive purchases
    AVG(gap_days) AS avg_days_between_purchases
  FROM (
    SELECT
      *,
      TIMESTAMP_DIFF(purchased_at, LAG(purchased_at) OVER (PARTITION BY user_pseudo_id ORDER BY purchased_at), HOUR) / 24 AS gap_days
    FROM purchases
  ) AS p
  GROUP BY p.user_pseudo_id
),

refunds AS (
  SELECT user_pseudo_id, SUM(IFNULL(refund_usd, 0)) AS refunds_usd
  FROM base
  WHERE event_name = 'refund'
  GROUP BY user_pseudo_id
),

ga_ltv AS (
  SELECT
    user_pseudo_id,
    MAX_BY(ga_ltv_revenue, event_ts) AS ga_reported_ltv,
    MAX_BY(ga_ltv_currency, event_ts) AS ga_reported_ltv_currency
  FROM base
  WHERE ga_ltv_revenue IS NOT NULL
  GROUP BY user_pseudo_id
)

SELECT
  u.user_pseudo_id,
  u.user_id,
  u.first_touch_ts,
  u.first_seen_date,
  u.last_seen_date,
  DATE_DIFF(u.last_seen_date, u.first_seen_date, DAY) AS lifespan_days,
  DATE_DIFF(DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY), u.last_seen_date, DAY) AS days_since_last_seen,
  DATE_TRUNC(u.first_seen_date, MONTH) AS acquisition_cohort,
  IFNULL(u.first_user_source, '(direct)') AS first_user_source,
  IFNULL(u.first_user_medium, '(none)') AS first_user_medium,
  IFNULL(u.first_user_campaign, '(not set)') AS first_user_campaign,
  u.first_device_category,
  u.first_country,
  u.latest_country,
  u.continent,
  u.latest_language,
  u.platforms_used,
  u.device_categories_used,
  e.sessions,
  e.active_days,
  e.pageviews,
  ROUND(e.engaged_minutes, 1) AS engaged_minutes,
  e.content_groups_seen,
  e.top_content_group,
  e.signed_up,
  e.signup_method,
  e.signed_up_at,
  e.leads,
  e.add_to_carts,
  IFNULL(ee.sessions_d7, 0) AS sessions_d7,
  ROUND(IFNULL(ee.engaged_minutes_d7, 0), 1) AS engaged_minutes_d7,
  IFNULL(ee.item_views_d7, 0) AS item_views_d7,
  IFNULL(ee.add_to_carts_d7, 0) AS add_to_carts_d7,
  ROUND(IFNULL(ee.revenue_d7, 0), 2) AS revenue_d7,
  IFNULL(m.transactions, 0) AS transactions,
  ROUND(IFNULL(m.gross_revenue_usd, 0), 2) AS gross_revenue_usd,
  ROUND(IFNULL(r.refunds_usd, 0), 2) AS refunds_usd,
  ROUND(IFNULL(m.gross_revenue_usd, 0) - IFNULL(r.refunds_usd, 0), 2) AS net_revenue_usd,
  ROUND(m.avg_order_value_usd, 2) AS avg_order_value_usd,
  ROUND(m.avg_days_between_purchases, 1) AS avg_days_between_purchases,
  m.first_purchase_at,
  m.last_purchase_at,
  TIMESTAMP_DIFF(m.first_purchase_at, u.first_touch_ts, HOUR) / 24 AS days_to_first_purchase,
  g.ga_reported_ltv,
  g.ga_reported_ltv_currency,
  CASE
    WHEN IFNULL(m.transactions, 0) = 0 THEN 'never_purchased'
    WHEN m.transactions = 1 THEN 'one_time'
    WHEN m.transactions BETWEEN 2 AND 4 THEN 'repeat'
    ELSE 'loyal'
  END AS purchase_segment
FROM users AS u
LEFT JOIN engagement AS e USING (user_pseudo_id)
LEFT JOIN early_engagement AS ee USING (user_pseudo_id)
LEFT JOIN monetisation AS m USING (user_pseudo_id)
LEFT JOIN refunds AS r USING (user_pseudo_id)
LEFT JOIN ga_ltv AS g USING (user_pseudo_id)
