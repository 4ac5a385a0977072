-- In-app subscription revenue & renewals from App Store Server Notifications v2
-- and Google Play RTDN, normalised into one event stream.
-- Grain of the output: day x store x product x event bucket.

WITH apple_raw AS (
  SELECT
    received_at,
    JSON_VALUE(payload, '$.notificationType') AS notification_type,
    JSON_VALUE(payload, '$.subtype') AS subtype,
    JSON_VALUE(payload, '$.data.signedTransactionInfo.originalTransactionId') AS original_transaction_id,
    JSON_VALUE(payload, '$.data.signedTransactionInfo.transactionId') AS transaction_id,
    JSON_VALUE(payload, '$.data.signedTransactionInfo.productId') AS product_id,
    SAFE_CAST(JSON_VALUE(payload, '$.data.signedTransactionInfo.price') AS INT64) / 1000 AS price_local,
    JSON_VALUE(payload, '$.data.signedTransactionInfo.currency') AS currency,
    JSON_VALUE(payload, '$.data.signedTransactionInfo.offerType') AS offer_type,
    TIMESTAMP_MILLIS(SAFE_CAST(JSON_VALUE(payload, '$.data.signedTransactionInfo.purchaseDate') AS INT64)) AS purchase_ts,
    TIMESTAMP_MILLIS(SAFE_CAST(JSON_VALUE(payload, '$.data.signedTransactionInfo.expiresDate') AS INT64)) AS expires_ts,
    JSON_VALUE(payload, '$.data.environment') AS environment,
    JSON_VALUE(payload, '$.data.signedTransactionInfo.storefront') AS storefront
  FROM `mobile-subs-prod.raw.apple_server_notifications`
  WHERE DATE(received_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 120 DAY)
),

apple AS (
  SELECT
    'app_store' AS store,
    original_transaction_id AS subscription_key,
    transaction_id AS event_id,
    product_id,
    COALESCE(purchase_ts, received_at) AS event_ts,
    expires_ts,
    price_local,
    currency,
    storefront AS country_code,
    CASE
      WHEN notification_type = 'SUBSCRIBED' AND subtype = 'INITIAL_BUY' AND offer_type = '1' THEN 'trial_start'
      WHEN notification_type = 'SUBSCRIBED' THEN 'new_paid'
      WHEN notification_type = 'DID_RENEW' AND offer_type = '1' THEN 'trial_conversion'
      WHEN notification_type = 'DID_RENEW' THEN 'renewal'
      WHEN notification_type = 'DID_FAIL_TO_RENEW' THEN 'billing_issue'
      WHEN notification_type = 'EXPIRED' THEN 'expired'
      WHEN notification_type = 'REFUND' THEN 'refund'
      WHEN notification_type = 'DID_CHANGE_RENEWAL_STATUS' AND subtype = 'AUTO_RENEW_DISABLED' THEN 'auto_renew_off'
      WHEN notification_type = 'DID_CHANGE_RENEWAL_STATUS' AND subtype = 'AUTO_RENEW_ENABLED' THEN 'auto_renew_on'
      ELSE LOWER(notification_type)
    END AS event_bucket
  FROM apple_raw
  WHERE environment = 'Production'
),

google_raw AS (
  SELECT
    publish_time AS received_at,
    SAFE_CAST(JSON_VALUE(SAFE_CONVERT_BYTES_TO_STRING(FROM_BASE64(message_data)), '$.subscriptionNotification.notificationType') AS INT64) AS notification_type,
    JSON_VALUE(SAFE_CONVERT_BYTES_TO_STRING(FROM_BASE64(message_data)), '$.subscriptionNotification.purchaseToken') AS purchase_token,
    JSON_VALUE(SAFE_CONVERT_BYTES_TO_STRING(FROM_BASE64(message_data)), '$.subscriptionNotification.subscriptionId') AS product_id,
    message_id
  FROM `mobile-subs-prod.raw.play_rtdn_messages`
  WHERE DATE(publish_time) >= DATE_SUB(CURRENT_DATE(), INTERVAL 120 DAY)
),

google_orders AS (
  SELECT
    purchase_token,
    order_id,
    charged_amount_micros / 1e6 AS price_local,
    currency_code,
    buyer_country,
    is_free_trial,
    order_ts
  FROM `mobile-subs-prod.raw.play_subscription_orders`
),

google AS (
  SELECT
    'play_store' AS store,
    g.purchase_token AS subscription_key,
    g.message_id AS event_id,
    g.product_id,
    COALESCE(o.order_ts, g.received_at) AS event_ts,
    CAST(NULL AS TIMESTAMP) AS expires_ts,
    o.price_local,
    o.currency_code AS currency,
    o.buyer_country AS country_code,
    CASE g.notification_type
      WHEN 4 THEN IF(o.is_free_trial, 'trial_start', 'new_paid')
      WHEN 2 THEN 'renewal'
      WHEN 1 THEN 'recovered'
      WHEN 6 THEN 'billing_issue'
      WHEN 5 THEN 'account_hold'
      WHEN 3 THEN 'auto_renew_off'
      WHEN 7 THEN 'auto_renew_on'
      WHEN 13 THEN 'expired'
      WHEN 12 THEN 'revoked'
      ELSE CONCAT('type_', CAST(g.notification_type AS STRING))
    END AS event_bucket
  FROM google_raw AS g
  LEFT JOIN google_orders AS o
    ON o.purchase_token = g.purchase_token
   AND o.order_ts BETWEEN TIMESTAMP_SUB(g.received_at, INTERVAL 1 HOUR) AND TIMESTAMP_ADD(g.received_at, INTERVAL 1 HOUR)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY g.message_id ORDER BY o.order_ts DESC) = 1
),

unified AS (
  SELECT * FROM apple
  UNION ALL
  SELECT * FROM google
),

deduped AS (
  SELECT *
  FROM unified
  QUALIFY ROW_NUMBER() OVER (PARTITION BY store, event_id, event_bucket ORDER BY event_ts) = 1
),

fx AS (
  SELECT currency_code, rate_date, usd_per_unit
  FROM `mobile-subs-prod.reference.fx_daily`
),

-- Apple/Google keep 15% for small-business/renewal year 2+, 30% otherwise.
commission AS (
  SELECT
    d.*,
    IFNULL(
      FIRST_VALUE(d.event_ts) OVER (PARTITION BY d.store, d.subscription_key ORDER BY d.event_ts
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
      d.event_ts
    ) AS first_event_ts
  FROM deduped AS d
)

SELECT
  DATE(c.event_ts) AS event_date,
  c.store,
  c.product_id,
  REGEXP_EXTRACT(c.product_id, r'\.(monthly|annual|weekly)(?:\.|$)') AS billing_period,
  c.event_bucket,
  COUNT(*) AS events,
  COUNT(DISTINCT c.subscription_key) AS subscriptions,
  ROUND(SUM(IF(c.event_bucket IN ('new_paid', 'renewal', 'trial_conversion', 'recovered'),
               c.price_local * IF(c.currency = 'USD', 1, fx.usd_per_unit), 0)), 2) AS gross_usd,
  ROUND(SUM(IF(c.event_bucket IN ('new_paid', 'renewal', 'trial_conversion', 'recovered'),
               c.price_local * IF(c.currency = 'USD', 1, fx.usd_per_unit)
               * IF(TIMESTAMP_DIFF(c.event_ts, c.first_event_ts, DAY) >= 365, 0.85, 0.70), 0)), 2) AS proceeds_usd,
  ROUND(SUM(IF(c.event_bucket IN ('refund', 'revoked'),
               -c.price_local * IF(c.currency = 'USD', 1, fx.usd_per_unit), 0)), 2) AS refunds_usd,
  ARRAY_AGG(DISTINCT c.country_code IGNORE NULLS ORDER BY c.country_code LIMIT 10) AS sample_countries
FROM commission AS c
LEFT JOIN fx
  ON fx.currency_code = c.currency
 AND fx.rate_date = DATE(c.event_ts)
GROUP BY 1, 2, 3, 4, 5
ORDER BY event_date DESC, store, product_id, event_bucket
