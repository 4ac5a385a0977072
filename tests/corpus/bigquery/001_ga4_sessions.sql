-- GA4 session-level model: one row per session with landing page, source attribution,
-- engagement and conversion flags. Maintained by the web analytics team.
-- Owner: analytics-eng@ ; refreshed daily over a 3-day lookback window.
WITH raw_events AS (
  SELECT
    PARSE_DATE('%Y%m%d', event_date) AS event_date,
    TIMESTAMP_MICROS(event_timestamp) AS event_ts,
    event_name,
    user_pseudo_id,
    user_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS ga_session_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_number') AS ga_session_number,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location') AS page_location,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_referrer') AS page_referrer,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_title') AS page_title,
    (SELECT COALESCE(value.string_value, CAST(value.int_value AS STRING))
       FROM UNNEST(event_params) WHERE key = 'session_engaged') AS session_engaged,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'engagement_time_msec') AS engagement_time_msec,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'source') AS param_source,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'medium') AS param_medium,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'campaign') AS param_campaign,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'gclid') AS param_gclid,
    traffic_source.source AS first_user_source,
    traffic_source.medium AS first_user_medium,
    traffic_source.name AS first_user_campaign,
    device.category AS device_category,
    device.operating_system AS operating_system,
    device.web_info.browser AS browser,
    geo.country AS country,
    geo.region AS region,
    geo.city AS city,
    ecommerce.purchase_revenue_in_usd AS purchase_revenue_usd,
    ecommerce.transaction_id AS transaction_id,
    platform
  FROM `acme-web-prod.analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE('America/New_York'), INTERVAL 3 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE('America/New_York'), INTERVAL 1 DAY))
    AND event_name NOT IN ('user_engagement_debug', 'firebase_campaign')
),

sessionized AS (
  SELECT
    *,
    CONCAT(user_pseudo_id, '.', CAST(ga_session_id AS STRING)) AS session_key,
    REGEXP_EXTRACT(page_location, r'^https?://[^/]+(/[^?#]*)') AS page_path,
    NET.HOST(page_location) AS page_host,
    NET.HOST(page_referrer) AS referrer_host
  FROM raw_events
  WHERE ga_session_id IS NOT NULL
),

session_bounds AS (
  SELECT
    session_key,
    ANY_VALUE(user_pseudo_id) AS user_pseudo_id,
    MAX(user_id) AS user_id,
    MIN(event_date) AS session_date,
    MIN(event_ts) AS session_start_ts,
    MAX(event_ts) AS session_end_ts,
    MAX(ga_session_number) AS ga_session_number,
    COUNT(*) AS event_count,
    COUNTIF(event_name = 'page_view') AS pageviews,
    COUNT(DISTINCT IF(event_name = 'page_view', page_path, NULL)) AS unique_pages,
    SUM(COALESCE(engagement_time_msec, 0)) / 1000 AS engagement_seconds,
    LOGICAL_OR(session_engaged = '1') AS is_engaged,
    COUNTIF(event_name = 'add_to_cart') AS add_to_carts,
    COUNTIF(event_name = 'begin_checkout') AS checkouts,
    COUNTIF(event_name = 'purchase') AS purchases,
    SUM(IF(event_name = 'purchase', purchase_revenue_usd, 0)) AS revenue_usd,
    ARRAY_AGG(DISTINCT transaction_id IGNORE NULLS) AS transaction_ids,
    ANY_VALUE(device_category) AS device_category,
    ANY_VALUE(operating_system) AS operating_system,
    ANY_VALUE(browser) AS browser,
    ANY_VALUE(country) AS country,
    ANY_VALUE(region) AS region,
    ANY_VALUE(city) AS city
  FROM sessionized
  GROUP BY session_key
),

landing AS (
  SELECT
    session_key,
    page_path AS landing_page_path,
    page_title AS landing_page_title,
    page_host AS landing_host,
    referrer_host
  FROM sessionized
  WHERE event_name = 'page_view'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY session_key ORDER BY event_ts, page_path) = 1
),

exit_page AS (
  SELECT session_key, page_path AS exit_page_path
  FROM sessionized
  WHERE event_name = 'page_view'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY session_key ORDER BY event_ts DESC) = 1
),

session_source AS (
  -- last non-null source within the session, as GA4 does for session_source
  SELECT
    session_key,
    ARRAY_AGG(
      STRUCT(param_source AS source, param_medium AS medium, param_campaign AS campaign, param_gclid AS gclid)
      IGNORE NULLS ORDER BY event_ts LIMIT 1
    )[SAFE_OFFSET(0)] AS src
  FROM sessionized
  WHERE param_source IS NOT NULL OR param_gclid IS NOT NULL
  GROUP BY session_key
),

channel_rules AS (
  SELECT
    s.session_key,
    COALESCE(s.src.source, IF(s.src.gclid IS NOT NULL, 'google', NULL), '(direct)') AS source,
    COALESCE(s.src.medium, IF(s.src.gclid IS NOT NULL, 'cpc', NULL), '(none)') AS medium,
    COALESCE(s.src.campaign, '(not set)') AS campaign
  FROM session_source AS s
),

channel_grouped AS (
  SELECT
    session_key,
    source,
    medium,
    campaign,
    CASE
      WHEN source = '(direct)' AND medium IN ('(none)', '(not set)') THEN 'Direct'
      WHEN REGEXP_CONTAINS(campaign, r'(?i)cross-network') THEN 'Cross-network'
      WHEN REGEXP_CONTAINS(medium, r'^(.*cp.*|ppc|retargeting|paid.*)$')
           AND REGEXP_CONTAINS(source, r'(?i)google|bing|yahoo|baidu|duckduckgo|yandex') THEN 'Paid Search'
      WHEN REGEXP_CONTAINS(medium, r'^(.*cp.*|ppc|retargeting|paid.*)$')
           AND REGEXP_CONTAINS(source, r'(?i)facebook|instagram|linkedin|reddit|tiktok|twitter|pinterest') THEN 'Paid Social'
      WHEN medium IN ('display', 'banner', 'expandable', 'interstitial', 'cpm') THEN 'Display'
      WHEN REGEXP_CONTAINS(source, r'(?i)google|bing|yahoo|baidu|duckduckgo|yandex') OR medium = 'organic' THEN 'Organic Search'
      WHEN REGEXP_CONTAINS(source, r'(?i)facebook|instagram|linkedin|reddit|tiktok|twitter|pinterest|t\.co')
           OR medium IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media') THEN 'Organic Social'
      WHEN REGEXP_CONTAINS(medium, r'(?i)email|e-mail|e_mail|e mail') OR REGEXP_CONTAINS(source, r'(?i)email|e-mail|e_mail|e mail') THEN 'Email'
      WHEN medium = 'affiliate' THEN 'Affiliates'
      WHEN medium = 'referral' THEN 'Referral'
      WHEN medium = 'audio' THEN 'Audio'
      WHEN medium = 'sms' THEN 'SMS'
      WHEN ENDS_WITH(medium, 'push') OR REGEXP_CONTAINS(medium, r'mobile|notification') THEN 'Mobile Push Notifications'
      ELSE 'Unassigned'
    END AS default_channel_group
  FROM channel_rules
),

final AS (
  SELECT
    b.session_date,
    b.session_key,
    b.user_pseudo_id,
    b.user_id,
    b.ga_session_number,
    b.ga_session_number = 1 AS is_new_user_session,
    b.session_start_ts,
    b.session_end_ts,
    TIMESTAMP_DIFF(b.session_end_ts, b.session_start_ts, SECOND) AS session_duration_seconds,
    b.event_count,
    b.pageviews,
    b.unique_pages,
    ROUND(b.engagement_seconds, 1) AS engagement_seconds,
    b.is_engaged,
    NOT b.is_engaged AND b.pageviews <= 1 AS is_bounce,
    l.landing_page_path,
    l.landing_page_title,
    l.landing_host,
    l.referrer_host,
    e.exit_page_path,
    COALESCE(c.source, '(direct)') AS session_source,
    COALESCE(c.medium, '(none)') AS session_medium,
    COALESCE(c.campaign, '(not set)') AS session_campaign,
    COALESCE(c.default_channel_group, 'Direct') AS session_default_channel_group,
    b.device_category,
    b.operating_system,
    b.browser,
    b.country,
    b.region,
    b.city,
    b.add_to_carts > 0 AS has_add_to_cart,
    b.checkouts > 0 AS has_checkout,
    b.purchases > 0 AS has_purchase,
    b.purchases,
    ROUND(b.revenue_usd, 2) AS revenue_usd,
    ARRAY_LENGTH(b.transaction_ids) AS distinct_transactions,
    b.transaction_ids
  FROM session_bounds AS b
  LEFT JOIN landing AS l USING (session_key)
  LEFT JOIN exit_page AS e USING (session_key)
  LEFT JOIN channel_grouped AS c USING (session_key)
)

SELECT *
FROM final
WHERE session_date >= DATE_SUB(CURRENT_DATE('America/New_York'), INTERVAL 3 DAY)
ORDER BY session_start_ts
