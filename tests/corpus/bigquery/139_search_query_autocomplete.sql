-- Build autocomplete suggestions: popular successful queries per prefix (first 3 chars).
WITH q AS (
  SELECT
    LOWER(TRIM(query)) AS query_norm,
    COUNT(*) AS searches,
    COUNTIF(results_total > 0) AS searches_with_results,
    COUNT(DISTINCT user_id) AS users
  FROM `shop-analytics.search.searches`
  WHERE DATE(searched_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
    AND CHAR_LENGTH(TRIM(query)) BETWEEN 3 AND 40
  GROUP BY query_norm
  HAVING users >= 5
     AND searches_with_results / searches > 0.8
)
SELECT
  SUBSTR(query_norm, 1, 3) AS prefix,
  ARRAY_AGG(STRUCT(query_norm AS suggestion, searches) ORDER BY searches DESC LIMIT 8) AS suggestions
FROM q
WHERE NOT REGEXP_CONTAINS(query_norm, r'[<>{}]|http')
GROUP BY prefix
ORDER BY prefix
