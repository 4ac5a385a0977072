-- Top zero-result queries on site search, normalised.
WITH searches AS (
  SELECT
    LOWER(TRIM(REGEXP_REPLACE(query_text, r'\s+', ' '))) AS q,
    results_count,
    session_id,
    searched_at
  FROM `shop-analytics.search.search_log`
  WHERE DATE(searched_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY)
    AND query_text IS NOT NULL
    AND NOT REGEXP_CONTAINS(query_text, r'^\d{6,}$')  -- order numbers typed into search
)
SELECT
  q,
  COUNT(*) AS searches,
  COUNT(DISTINCT session_id) AS sessions,
  COUNTIF(results_count = 0) AS zero_result_searches,
  ROUND(COUNTIF(results_count = 0) / COUNT(*), 3) AS zero_rate,
  MIN(searched_at) AS first_seen,
  MAX(searched_at) AS last_seen
FROM searches
WHERE CHAR_LENGTH(q) BETWEEN 2 AND 80
GROUP BY q
HAVING zero_result_searches >= 5
ORDER BY zero_result_searches DESC
LIMIT 200
