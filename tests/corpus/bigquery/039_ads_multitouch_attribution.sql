-- Multi-touch attribution: first-touch, last-touch, linear, time-decay (7-day half-life)
-- and position-based (40/20/40) credit for conversions over a 30-day lookback.
-- Touchpoints come from GA4 session sources; conversions from the orders mart.

WITH sessions AS (
  SELECT
    user_pseudo_id,
    user_id,
    session_key,
    session_start_ts,
    session_source,
    session_medium,
    session_campaign,
    session_default_channel_group AS channel
  FROM `acme-web-prod.marts.ga4_sessions`
  WHERE session_date BETWEEN DATE '2024-03-01' AND DATE '2024-06-30'
),

identity AS (
  -- stitch pseudo ids to customer ids using any session where the user logged in
  SELECT
    user_pseudo_id,
    ARRAY_AGG(user_id IGNORE NULLS ORDER BY session_start_ts DESC LIMIT 1)[SAFE_OFFSET(0)] AS customer_id
  FROM sessions
  GROUP BY user_pseudo_id
),

touchpoints AS (
  SELECT
    i.customer_id,
    s.session_key,
    s.session_start_ts AS touch_ts,
    s.channel,
    s.session_source,
    s.session_medium,
    s.session_campaign
  FROM sessions AS s
  JOIN identity AS i USING (user_pseudo_id)
  WHERE i.customer_id IS NOT NULL
    -- direct sessions do not steal credit unless they are the only touch
    AND s.channel != 'Direct'
),

conversions AS (
  SELECT
    order_id,
    buyer_id AS customer_id,
    created_at AS conversion_ts,
    nmv_usd AS revenue
  FROM `mkt-data-prod.marts.fct_marketplace_orders`
  WHERE order_date BETWEEN DATE '2024-04-01' AND DATE '2024-06-30'
    AND order_status != 'cancelled'
),

paths AS (
  SELECT
    c.order_id,
    c.customer_id,
    c.conversion_ts,
    c.revenue,
    t.session_key,
    t.touch_ts,
    t.channel,
    t.session_campaign,
    ROW_NUMBER() OVER (PARTITION BY c.order_id ORDER BY t.touch_ts) AS touch_index,
    COUNT(*) OVER (PARTITION BY c.order_id) AS path_length,
    TIMESTAMP_DIFF(c.conversion_ts, t.touch_ts, SECOND) / 86400.0 AS days_before_conversion
  FROM conversions AS c
  JOIN touchpoints AS t
    ON t.customer_id = c.customer_id
   AND t.touch_ts <= c.conversion_ts
   AND t.touch_ts >= TIMESTAMP_SUB(c.conversion_ts, INTERVAL 30 DAY)
),

weights AS (
  SELECT
    *,
    IF(touch_index = 1, 1.0, 0.0) AS w_first,
    IF(touch_index = path_length, 1.0, 0.0) AS w_last,
    1.0 / path_length AS w_linear,
    POW(0.5, days_before_conversion / 7) AS decay_raw,
    CASE
      WHEN path_length = 1 THEN 1.0
      WHEN path_length = 2 THEN 0.5
      WHEN touch_index = 1 OR touch_index = path_length THEN 0.4
      ELSE 0.2 / (path_length - 2)
    END AS w_position
  FROM paths
),

normalised AS (
  SELECT
    *,
    decay_raw / SUM(decay_raw) OVER (PARTITION BY order_id) AS w_time_decay
  FROM weights
),

unattributed AS (
  -- conversions with no qualifying touch are credited to Direct / (none)
  SELECT
    c.order_id,
    c.revenue,
    'Direct' AS channel,
    '(not set)' AS session_campaign
  FROM conversions AS c
  WHERE NOT EXISTS (SELECT 1 FROM paths AS p WHERE p.order_id = c.order_id)
),

credited AS (
  SELECT
    channel,
    session_campaign,
    SUM(w_first) AS conv_first,
    SUM(w_last) AS conv_last,
    SUM(w_linear) AS conv_linear,
    SUM(w_time_decay) AS conv_time_decay,
    SUM(w_position) AS conv_position,
    SUM(w_first * revenue) AS rev_first,
    SUM(w_last * revenue) AS rev_last,
    SUM(w_linear * revenue) AS rev_linear,
    SUM(w_time_decay * revenue) AS rev_time_decay,
    SUM(w_position * revenue) AS rev_position,
    COUNT(DISTINCT order_id) AS orders_touched,
    AVG(path_length) AS avg_path_length
  FROM normalised
  GROUP BY channel, session_campaign

  UNION ALL

  SELECT
    channel,
    session_campaign,
    COUNT(*), COUNT(*), COUNT(*), COUNT(*), COUNT(*),
    SUM(revenue), SUM(revenue), SUM(revenue), SUM(revenue), SUM(revenue),
    COUNT(*),
    0
  FROM unattributed
  GROUP BY channel, session_campaign
),

spend AS (
  SELECT
    channel,
    campaign_name AS session_campaign,
    SUM(cost_usd) AS spend_usd
  FROM `acme-ads.marts.daily_ad_spend`
  WHERE spend_date BETWEEN DATE '2024-04-01' AND DATE '2024-06-30'
  GROUP BY 1, 2
)

SELECT
  c.channel,
  c.session_campaign AS campaign,
  ROUND(SUM(c.conv_first), 1) AS conv_first_touch,
  ROUND(SUM(c.conv_last), 1) AS conv_last_touch,
  ROUND(SUM(c.conv_linear), 1) AS conv_linear,
  ROUND(SUM(c.conv_time_decay), 1) AS conv_time_decay,
  ROUND(SUM(c.conv_position), 1) AS conv_position_based,
  ROUND(SUM(c.rev_first), 2) AS rev_first_touch,
  ROUND(SUM(c.rev_last), 2) AS rev_last_touch,
  ROUND(SUM(c.rev_linear), 2) AS rev_linear,
  ROUND(SUM(c.rev_time_decay), 2) AS rev_time_decay,
  ROUND(SUM(c.rev_position), 2) AS rev_position_based,
  SUM(c.orders_touched) AS orders_touched,
  ANY_VALUE(s.spend_usd) AS spend_usd,
  ROUND(SAFE_DIVIDE(SUM(c.rev_time_decay), ANY_VALUE(s.spend_usd)), 2) AS roas_time_decay,
  ROUND(SAFE_DIVIDE(ANY_VALUE(s.spend_usd), SUM(c.conv_position)), 2) AS cpa_position_based
FROM credited AS c
LEFT JOIN spend AS s
  ON s.channel = c.channel
 AND s.session_campaign = c.session_campaign
GROUP BY c.channel, c.session_campaign
ORDER BY rev_time_decay DESC
