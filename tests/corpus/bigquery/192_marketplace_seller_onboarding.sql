-- Seller onboarding funnel: signup -> KYC -> first listing -> first sale within 30 days.
SELECT
  DATE_TRUNC(DATE(s.signed_up_at), WEEK(MONDAY)) AS signup_week,
  s.acquisition_channel,
  COUNT(*) AS signups,
  COUNTIF(k.verified_at IS NOT NULL) AS kyc_verified,
  COUNTIF(l.first_listing_at IS NOT NULL) AS listed,
  COUNTIF(o.first_sale_at <= TIMESTAMP_ADD(s.signed_up_at, INTERVAL 30 DAY)) AS sold_within_30d,
  ROUND(AVG(TIMESTAMP_DIFF(k.verified_at, s.signed_up_at, HOUR)), 1) AS avg_hours_to_kyc,
  ROUND(AVG(TIMESTAMP_DIFF(l.first_listing_at, s.signed_up_at, HOUR)), 1) AS avg_hours_to_first_listing,
  APPROX_TOP_COUNT(k.rejection_reason, 3) AS top_kyc_rejections
FROM core.sellers AS s
LEFT JOIN (
  SELECT seller_id, MIN(IF(status = 'verified', decided_at, NULL)) AS verified_at, ANY_VALUE(IF(status = 'rejected', reason, NULL)) AS rejection_reason
  FROM compliance.kyc_checks
  GROUP BY seller_id
) AS k USING (seller_id)
LEFT JOIN (
  SELECT seller_id, MIN(published_at) AS first_listing_at
  FROM core.listings
  GROUP BY seller_id
) AS l USING (seller_id)
LEFT JOIN (
  SELECT primary_seller_id AS seller_id, MIN(created_at) AS first_sale_at
  FROM marts.fct_marketplace_orders
  WHERE order_status != 'cancelled'
  GROUP BY 1
) AS o USING (seller_id)
WHERE s.signed_up_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 26 WEEK)
GROUP BY 1, 2
ORDER BY 1 DESC, signups DESC
