-- App store reviews: low-rating keyword frequency by app version (last 60 days).
WITH reviews AS (
  SELECT
    review_id,
    app_version,
    star_rating,
    LOWER(review_text) AS text
  FROM `ext-prod.app_store.reviews_v2`
  WHERE review_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 60 DAY)
    AND review_language = 'en'
)
SELECT
  app_version,
  keyword,
  COUNT(*) AS mentions,
  ROUND(AVG(star_rating), 2) AS avg_rating_when_mentioned
FROM reviews,
  UNNEST([
    'crash', 'freeze', 'login', 'battery', 'sync', 'subscription', 'ads', 'slow', 'update', 'bluetooth'
  ]) AS keyword
WHERE REGEXP_CONTAINS(text, CONCAT(r'\b', keyword))
  AND star_rating <= 2
GROUP BY app_version, keyword
HAVING mentions >= 5
ORDER BY app_version DESC, mentions DESC
