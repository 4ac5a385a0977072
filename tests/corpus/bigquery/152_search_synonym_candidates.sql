-- Synonym mining: query pairs issued in sequence in the same session that lead to clicks on the same products.
WITH seq AS (
  SELECT
    session_id,
    LOWER(TRIM(query)) AS q,
    searched_at,
    search_id,
    LEAD(LOWER(TRIM(query))) OVER (PARTITION BY session_id ORDER BY searched_at) AS next_q,
    LEAD(search_id) OVER (PARTITION BY session_id ORDER BY searched_at) AS next_search_id,
    LEAD(searched_at) OVER (PARTITION BY session_id ORDER BY searched_at) AS next_at
  FROM search.searches
  WHERE DATE(searched_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
),
clicked AS (
  SELECT search_id, ARRAY_AGG(DISTINCT product_id) AS products
  FROM search.search_clicks
  WHERE DATE(clicked_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
  GROUP BY search_id
)
SELECT
  s.q AS query_a,
  s.next_q AS query_b,
  COUNT(*) AS transitions,
  COUNTIF(ca.search_id IS NULL) AS a_without_click,
  COUNTIF(EXISTS (SELECT 1 FROM UNNEST(cb.products) AS p WHERE p IN UNNEST(IFNULL(ca.products, [])))) AS shared_click_products,
  EDIT_DISTANCE(s.q, s.next_q) AS edit_distance
FROM seq AS s
LEFT JOIN clicked AS ca ON ca.search_id = s.search_id
JOIN clicked AS cb ON cb.search_id = s.next_search_id
WHERE s.next_q IS NOT NULL
  AND s.next_q != s.q
  AND TIMESTAMP_DIFF(s.next_at, s.searched_at, SECOND) <= 90
GROUP BY query_a, query_b
HAVING transitions >= 10
ORDER BY transitions DESC
LIMIT 1000
