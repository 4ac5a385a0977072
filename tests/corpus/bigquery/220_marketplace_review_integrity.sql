-- Review integrity: reviewers who only review one seller, review bursts, and identical texts.
WITH reviews AS (
  SELECT
    r.review_id,
    r.reviewer_id,
    r.seller_id,
    r.rating,
    r.created_at,
    FARM_FINGERPRINT(REGEXP_REPLACE(LOWER(r.body), r'\W+', '')) AS body_fp
  FROM core.reviews AS r
  WHERE r.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
)
SELECT
  seller_id,
  COUNT(*) AS reviews_90d,
  ROUND(AVG(rating), 2) AS avg_rating,
  COUNT(DISTINCT reviewer_id) AS reviewers,
  COUNTIF(reviewer_id IN (
    SELECT reviewer_id FROM reviews GROUP BY reviewer_id HAVING COUNT(DISTINCT seller_id) = 1 AND COUNT(*) >= 3
  )) AS reviews_from_single_seller_reviewers,
  COUNT(*) - COUNT(DISTINCT body_fp) AS duplicate_texts,
  MAX(daily_reviews) AS max_reviews_in_a_day
FROM (
  SELECT
    *,
    COUNT(*) OVER (PARTITION BY seller_id, DATE(created_at)) AS daily_reviews
  FROM reviews
)
GROUP BY seller_id
HAVING reviews_90d >= 10
   AND (duplicate_texts >= 3 OR max_reviews_in_a_day >= 10 OR reviews_from_single_seller_reviewers >= 5)
ORDER BY reviews_90d DESC
