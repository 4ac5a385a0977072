-- Feature table for the card-not-present fraud model (v7).
-- One row per payment attempt. Velocity features look strictly backwards in time
-- (RANGE frames exclude the current row) to avoid label leakage.
-- Labels arrive up to 120 days later via chargebacks; training uses attempts older than 120d.

WITH attempts AS (
  SELECT
    pa.attempt_id,
    pa.customer_id,
    pa.merchant_id,
    pa.created_at,
    UNIX_SECONDS(pa.created_at) AS ts_s,
    pa.amount_minor / 100 AS amount,
    pa.currency,
    pa.card_fingerprint,
    pa.card_bin,
    pa.card_country,
    pa.ip_address,
    NET.IP_TRUNC(NET.SAFE_IP_FROM_STRING(pa.ip_address), 24) AS ip_subnet,
    pa.ip_country,
    pa.device_id,
    pa.email,
    LOWER(SPLIT(pa.email, '@')[SAFE_OFFSET(1)]) AS email_domain,
    pa.billing_address.postal_code AS billing_postal,
    pa.shipping_address.postal_code AS shipping_postal,
    pa.shipping_address.country AS shipping_country,
    pa.outcome,
    pa.risk_score_vendor
  FROM core.payment_attempts AS pa
  WHERE pa.created_at BETWEEN TIMESTAMP('2023-06-01') AND TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)
),

velocity AS (
  SELECT
    attempt_id,
    -- card velocity
    COUNT(*) OVER card_1h AS card_attempts_1h,
    COUNT(*) OVER card_24h AS card_attempts_24h,
    COUNTIF(outcome = 'declined') OVER card_24h AS card_declines_24h,
    SUM(amount) OVER card_24h AS card_amount_24h,
    -- customer velocity
    COUNT(*) OVER cust_24h AS cust_attempts_24h,
    COUNT(*) OVER cust_7d AS cust_attempts_7d,
    AVG(amount) OVER cust_30d AS cust_avg_amount_30d,
    STDDEV_SAMP(amount) OVER cust_30d AS cust_sd_amount_30d,
    -- ip velocity
    COUNT(*) OVER ip_1h AS ip_attempts_1h,
    COUNT(*) OVER ip_24h AS ip_attempts_24h,
    -- device
    COUNT(*) OVER device_24h AS device_attempts_24h,
    -- time since previous attempt by the same card
    ts_s - LAG(ts_s) OVER (PARTITION BY card_fingerprint ORDER BY ts_s) AS secs_since_prev_card_attempt,
    ts_s - LAG(ts_s) OVER (PARTITION BY customer_id ORDER BY ts_s) AS secs_since_prev_cust_attempt
  FROM attempts
  WINDOW
    card_1h AS (PARTITION BY card_fingerprint ORDER BY ts_s RANGE BETWEEN 3600 PRECEDING AND 1 PRECEDING),
    card_24h AS (PARTITION BY card_fingerprint ORDER BY ts_s RANGE BETWEEN 86400 PRECEDING AND 1 PRECEDING),
    cust_24h AS (PARTITION BY customer_id ORDER BY ts_s RANGE BETWEEN 86400 PRECEDING AND 1 PRECEDING),
    cust_7d AS (PARTITION BY customer_id ORDER BY ts_s RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING),
    cust_30d AS (PARTITION BY customer_id ORDER BY ts_s RANGE BETWEEN 2592000 PRECEDING AND 1 PRECEDING),
    ip_1h AS (PARTITION BY ip_subnet ORDER BY ts_s RANGE BETWEEN 3600 PRECEDING AND 1 PRECEDING),
    ip_24h AS (PARTITION BY ip_subnet ORDER BY ts_s RANGE BETWEEN 86400 PRECEDING AND 1 PRECEDING),
    device_24h AS (PARTITION BY device_id ORDER BY ts_s RANGE BETWEEN 86400 PRECEDING AND 1 PRECEDING)
),

-- distinct-count features can't use windows, so compute them with self joins on a bounded range
card_distinct AS (
  SELECT
    a.attempt_id,
    COUNT(DISTINCT b.customer_id) AS card_distinct_customers_7d,
    COUNT(DISTINCT b.ip_subnet) AS card_distinct_subnets_7d,
    COUNT(DISTINCT b.shipping_postal) AS card_distinct_ship_postals_7d
  FROM attempts AS a
  JOIN attempts AS b
    ON b.card_fingerprint = a.card_fingerprint
   AND b.ts_s BETWEEN a.ts_s - 604800 AND a.ts_s - 1
  GROUP BY a.attempt_id
),

device_distinct AS (
  SELECT
    a.attempt_id,
    COUNT(DISTINCT b.card_fingerprint) AS device_distinct_cards_7d,
    COUNT(DISTINCT b.email) AS device_distinct_emails_7d
  FROM attempts AS a
  JOIN attempts AS b
    ON b.device_id = a.device_id
   AND b.ts_s BETWEEN a.ts_s - 604800 AND a.ts_s - 1
  WHERE a.device_id IS NOT NULL
  GROUP BY a.attempt_id
),

customer_profile AS (
  SELECT
    customer_id,
    created_at AS customer_created_at,
    kyc_level,
    is_business
  FROM core.customers
),

bin_info AS (
  SELECT bin, card_type, card_level, issuer_name, is_prepaid
  FROM reference.bin_table
  QUALIFY ROW_NUMBER() OVER (PARTITION BY bin ORDER BY updated_at DESC) = 1
),

disposable_domains AS (
  SELECT DISTINCT LOWER(domain) AS domain
  FROM reference.disposable_email_domains
),

labels AS (
  SELECT
    attempt_id,
    LOGICAL_OR(reason_category = 'fraudulent') AS is_fraud_chargeback,
    MIN(received_at) AS first_chargeback_at
  FROM disputes.chargebacks
  GROUP BY attempt_id
)

SELECT
  a.attempt_id,
  a.created_at,
  a.merchant_id,
  a.currency,
  a.amount,
  LOG10(a.amount + 1) AS log_amount,
  EXTRACT(HOUR FROM a.created_at) AS hour_utc,
  EXTRACT(DAYOFWEEK FROM a.created_at) AS dow,
  -- geo mismatches
  a.card_country != a.ip_country AS card_ip_country_mismatch,
  a.shipping_country != a.card_country AS ship_card_country_mismatch,
  a.billing_postal != a.shipping_postal AS bill_ship_postal_mismatch,
  -- email
  dd.domain IS NOT NULL AS is_disposable_email,
  REGEXP_CONTAINS(SPLIT(a.email, '@')[SAFE_OFFSET(0)], r'\d{4,}') AS email_has_long_digit_run,
  CHAR_LENGTH(SPLIT(a.email, '@')[SAFE_OFFSET(0)]) AS email_local_len,
  -- customer
  TIMESTAMP_DIFF(a.created_at, cp.customer_created_at, HOUR) AS customer_age_hours,
  cp.kyc_level,
  cp.is_business,
  -- card
  bi.card_type,
  bi.card_level,
  IFNULL(bi.is_prepaid, FALSE) AS is_prepaid,
  -- velocity
  v.card_attempts_1h,
  v.card_attempts_24h,
  v.card_declines_24h,
  IFNULL(v.card_amount_24h, 0) AS card_amount_24h,
  v.cust_attempts_24h,
  v.cust_attempts_7d,
  SAFE_DIVIDE(a.amount - v.cust_avg_amount_30d, v.cust_sd_amount_30d) AS amount_zscore_vs_cust_30d,
  v.ip_attempts_1h,
  v.ip_attempts_24h,
  v.device_attempts_24h,
  v.secs_since_prev_card_attempt,
  v.secs_since_prev_cust_attempt,
  IFNULL(cd.card_distinct_customers_7d, 0) AS card_distinct_customers_7d,
  IFNULL(cd.card_distinct_subnets_7d, 0) AS card_distinct_subnets_7d,
  IFNULL(cd.card_distinct_ship_postals_7d, 0) AS card_distinct_ship_postals_7d,
  IFNULL(ddv.device_distinct_cards_7d, 0) AS device_distinct_cards_7d,
  IFNULL(ddv.device_distinct_emails_7d, 0) AS device_distinct_emails_7d,
  a.risk_score_vendor,
  -- label
  IFNULL(l.is_fraud_chargeback, FALSE) AS label_fraud,
  TIMESTAMP_DIFF(l.first_chargeback_at, a.created_at, DAY) AS label_delay_days,
  a.created_at < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 120 DAY) AS label_is_mature,
  MOD(ABS(FARM_FINGERPRINT(a.customer_id)), 10) AS split_bucket
FROM attempts AS a
JOIN velocity AS v USING (attempt_id)
LEFT JOIN card_distinct AS cd USING (attempt_id)
LEFT JOIN device_distinct AS ddv USING (attempt_id)
LEFT JOIN customer_profile AS cp USING (customer_id)
LEFT JOIN bin_info AS bi ON bi.bin = a.card_bin
LEFT JOIN disposable_domains AS dd ON dd.domain = a.email_domain
LEFT JOIN labels AS l USING (attempt_id)
WHERE a.outcome IN ('approved', 'declined', 'blocked')
