-- Paginated export of product reviews for the partner feed (page size 500).
-- The partner API pulls pages of 500; page index is substituted by the exporter.
-- Stable ordering on (created_at, review_id) is required for pagination.
SELECT
  r.review_id,
  r.product_id,
  p.gtin,
  r.rating,
  r.title,
  r.body,
  r.created_at,
  r.verified_purchase,
  r.helpful_votes
FROM `acme-dw.catalog.product_reviews` AS r
JOIN `acme-dw.catalog.products` AS p USING (product_id)
WHERE r.moderation_status = 'approved'
  AND r.created_at >= TIMESTAMP '2024-01-01'
  AND p.gtin IS NOT NULL
ORDER BY r.created_at, r.review_id
LIMIT 500 OFFSET 1500
