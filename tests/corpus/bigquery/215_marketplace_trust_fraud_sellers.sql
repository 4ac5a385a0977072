-- Seller fraud risk features (marketplace trust team), refreshed hourly.
-- Captures listing-velocity bursts, price anomalies vs category, off-platform contact attempts in
-- messages, payout-account changes, buyer complaint rates and network links to banned sellers.
-- Grain: seller_id. Only sellers active in the last 30 days.

WITH active_sellers AS (
  SELECT DISTINCT seller_id
  FROM `mkt-data-prod.core.listings`
  WHERE published_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
),

seller_profile AS (
  SELECT
    s.seller_id,
    s.onboarded_at,
    s.country_code,
    s.seller_tier,
    s.kyc_status,
    s.email_domain,
    s.signup_ip,
    s.phone_country,
    TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), s.onboarded_at, DAY) AS account_age_days
  FROM `mkt-data-prod.core.sellers` AS s
  JOIN active_sellers USING (seller_id)
),

listings_30d AS (
  SELECT
    l.seller_id,
    l.listing_id,
    l.category_id,
    l.price_eur,
    l.published_at,
    l.title,
    l.description,
    ARRAY_LENGTH(l.image_hashes) AS n_images,
    l.image_hashes
  FROM `mkt-data-prod.core.listings` AS l
  JOIN active_sellers USING (seller_id)
  WHERE l.published_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
),

category_price_stats AS (
  SELECT
    category_id,
    APPROX_QUANTILES(price_eur, 100)[OFFSET(10)] AS p10_price,
    APPROX_QUANTILES(price_eur, 100)[OFFSET(50)] AS p50_price
  FROM `mkt-data-prod.core.listings`
  WHERE published_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
    AND status IN ('active', 'sold')
  GROUP BY category_id
),

listing_features AS (
  SELECT
    l.seller_id,
    COUNT(*) AS listings_30d,
    COUNTIF(l.published_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)) AS listings_24h,
    MAX(hourly.n) AS max_listings_in_one_hour,
    COUNT(DISTINCT l.category_id) AS categories_30d,
    COUNTIF(l.price_eur < c.p10_price) AS listings_below_p10,
    ROUND(AVG(SAFE_DIVIDE(l.price_eur, c.p50_price)), 3) AS avg_price_to_category_median,
    COUNTIF(REGEXP_CONTAINS(LOWER(l.description), r'whats ?app|telegram|wire transfer|western union|\+\d{9,}')) AS listings_with_contact_bait,
    COUNTIF(l.n_images = 0) AS listings_without_images
  FROM listings_30d AS l
  LEFT JOIN category_price_stats AS c USING (category_id)
  LEFT JOIN (
    SELECT seller_id, TIMESTAMP_TRUNC(published_at, HOUR) AS h, COUNT(*) AS n
    FROM listings_30d
    GROUP BY 1, 2
  ) AS hourly
    ON hourly.seller_id = l.seller_id
   AND hourly.h = TIMESTAMP_TRUNC(l.published_at, HOUR)
  GROUP BY l.seller_id
),

reused_images AS (
  -- the same image hash used by other sellers is a strong signal for stolen listings
  SELECT
    a.seller_id,
    COUNT(DISTINCT b.seller_id) AS other_sellers_sharing_images
  FROM (SELECT DISTINCT seller_id, h FROM listings_30d, UNNEST(image_hashes) AS h) AS a
  JOIN (SELECT DISTINCT seller_id, h FROM `mkt-data-prod.core.listings`, UNNEST(image_hashes) AS h) AS b
    ON b.h = a.h
   AND b.seller_id != a.seller_id
  GROUP BY a.seller_id
),

messages AS (
  SELECT
    m.sender_id AS seller_id,
    COUNT(*) AS messages_30d,
    COUNTIF(REGEXP_CONTAINS(LOWER(m.body), r'whats ?app|telegram|signal me|e-?mail me|pay (outside|directly)|bank transfer')) AS off_platform_attempts,
    -- RE2 has no lookahead, so exclude our own domain with a second pattern
    COUNTIF(REGEXP_CONTAINS(m.body, r'https?://') AND NOT REGEXP_CONTAINS(m.body, r'https?://(www\.)?ourmarket\.com')) AS external_links
  FROM `mkt-data-prod.messaging.messages` AS m
  JOIN active_sellers AS s ON s.seller_id = m.sender_id
  WHERE m.sent_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
  GROUP BY 1
),

payout_changes AS (
  SELECT
    seller_id,
    COUNT(*) AS payout_changes_90d,
    MAX(changed_at) AS last_payout_change_at,
    COUNT(DISTINCT bank_country) AS payout_countries
  FROM `mkt-data-prod.payments.payout_account_changes`
  WHERE changed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
  GROUP BY seller_id
),

complaints AS (
  SELECT
    o.primary_seller_id AS seller_id,
    COUNT(DISTINCT o.order_id) AS orders_90d,
    COUNT(DISTINCT c.case_id) AS complaint_cases,
    COUNT(DISTINCT IF(c.case_type = 'item_not_received', c.case_id, NULL)) AS inr_cases,
    COUNT(DISTINCT IF(c.case_type = 'not_as_described', c.case_id, NULL)) AS snad_cases
  FROM `mkt-data-prod.marts.fct_marketplace_orders` AS o
  LEFT JOIN `mkt-data-prod.support.buyer_protection_cases` AS c USING (order_id)
  WHERE o.order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 90 DAY)
  GROUP BY 1
),

banned_links AS (
  SELECT
    sp.seller_id,
    COUNTIF(b.signup_ip = sp.signup_ip) AS banned_same_signup_ip,
    COUNTIF(b.email_domain = sp.email_domain AND sp.email_domain NOT IN ('gmail.com', 'outlook.com', 'yahoo.com')) AS banned_same_email_domain,
    COUNTIF(b.payout_fingerprint = pa.payout_fingerprint) AS banned_same_payout_account
  FROM seller_profile AS sp
  LEFT JOIN `mkt-data-prod.payments.payout_accounts` AS pa
    ON pa.seller_id = sp.seller_id
  JOIN `mkt-data-prod.trust.banned_sellers` AS b
    ON b.signup_ip = sp.signup_ip
    OR b.email_domain = sp.email_domain
    OR b.payout_fingerprint = pa.payout_fingerprint
  GROUP BY sp.seller_id
)

SELECT
  sp.seller_id,
  sp.account_age_days,
  sp.country_code,
  sp.seller_tier,
  sp.kyc_status,
  IFNULL(lf.listings_30d, 0) AS listings_30d,
  IFNULL(lf.listings_24h, 0) AS listings_24h,
  IFNULL(lf.max_listings_in_one_hour, 0) AS max_listings_in_one_hour,
  IFNULL(lf.categories_30d, 0) AS categories_30d,
  IFNULL(lf.listings_below_p10, 0) AS listings_below_p10,
  lf.avg_price_to_category_median,
  IFNULL(lf.listings_with_contact_bait, 0) AS listings_with_contact_bait,
  IFNULL(lf.listings_without_images, 0) AS listings_without_images,
  IFNULL(ri.other_sellers_sharing_images, 0) AS other_sellers_sharing_images,
  IFNULL(m.messages_30d, 0) AS messages_30d,
  IFNULL(m.off_platform_attempts, 0) AS off_platform_attempts,
  IFNULL(m.external_links, 0) AS external_links,
  IFNULL(pc.payout_changes_90d, 0) AS payout_changes_90d,
  TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), pc.last_payout_change_at, HOUR) AS hours_since_payout_change,
  IFNULL(pc.payout_countries, 0) AS payout_countries,
  IFNULL(c.orders_90d, 0) AS orders_90d,
  ROUND(SAFE_DIVIDE(c.complaint_cases, c.orders_90d), 4) AS complaint_rate,
  IFNULL(c.inr_cases, 0) AS inr_cases,
  IFNULL(c.snad_cases, 0) AS snad_cases,
  IFNULL(bl.banned_same_signup_ip, 0) AS banned_same_signup_ip,
  IFNULL(bl.banned_same_email_domain, 0) AS banned_same_email_domain,
  IFNULL(bl.banned_same_payout_account, 0) AS banned_same_payout_account,
  -- rule-based pre-score used until the model is retrained
  LEAST(100,
      IF(sp.account_age_days < 7, 15, 0)
    + IF(IFNULL(lf.max_listings_in_one_hour, 0) >= 20, 15, 0)
    + IF(IFNULL(lf.listings_below_p10, 0) >= 3, 15, 0)
    + 5 * LEAST(IFNULL(m.off_platform_attempts, 0), 4)
    + IF(IFNULL(ri.other_sellers_sharing_images, 0) >= 2, 20, 0)
    + IF(IFNULL(pc.payout_changes_90d, 0) >= 2, 10, 0)
    + IF(SAFE_DIVIDE(c.inr_cases, c.orders_90d) > 0.05, 20, 0)
    + IF(IFNULL(bl.banned_same_payout_account, 0) > 0, 50, 0)
    + IF(IFNULL(bl.banned_same_signup_ip, 0) > 0, 20, 0)
  ) AS rule_score,
  CURRENT_TIMESTAMP() AS computed_at
FROM seller_profile AS sp
LEFT JOIN listing_features AS lf USING (seller_id)
LEFT JOIN reused_images AS ri USING (seller_id)
LEFT JOIN messages AS m USING (seller_id)
LEFT JOIN payout_changes AS pc USING (seller_id)
LEFT JOIN complaints AS c USING (seller_id)
LEFT JOIN banned_links AS bl USING (seller_id)
