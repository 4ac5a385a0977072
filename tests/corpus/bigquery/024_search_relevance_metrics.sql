-- Search relevance: CTR@k, MRR, NDCG@10 and abandonment by query class and ranker version.
-- Uses impression-level logs (one row per result shown) and click logs.
-- Gains: purchase = 3, add to cart = 2, click = 1. Only the first 48 results are considered.
-- Output grain: ranker_version x query_class x has_filters, with ROLLUP subtotals.
-- Changelog:
--   2024-02  added quick reformulation rate
--   2024-05  ideal DCG computed from per-search sorted gains
WITH searches AS (
  SELECT
    search_id,
    user_id,
    session_id,
    searched_at,
    ranker_version,
    LOWER(TRIM(query)) AS query_norm,
    ARRAY_LENGTH(SPLIT(TRIM(query), ' ')) AS query_terms,
    filters_applied,
    results_total
  FROM search.searches
  WHERE DATE(searched_at) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND NOT is_bot
),

impressions AS (
  SELECT
    s.search_id,
    r.product_id,
    r.position + 1 AS rank_pos, -- positions are 0-based in the log
    r.score,
    r.is_sponsored
  FROM search.search_results AS sr,
       UNNEST(sr.results) AS r WITH OFFSET AS idx
  JOIN searches AS s USING (search_id)
  WHERE idx < 48
),

clicks AS (
  SELECT
    search_id,
    product_id,
    MIN(clicked_at) AS first_click_at,
    COUNT(*) AS n_clicks
  FROM search.search_clicks
  WHERE DATE(clicked_at) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY) AND CURRENT_DATE()
  GROUP BY search_id, product_id
),

purchases AS (
  SELECT DISTINCT
    a.search_id,
    a.product_id
  FROM search.search_attributed_orders AS a
  WHERE a.attribution_window_hours <= 24
),

graded AS (
  -- graded relevance: purchase=3, add to cart=2, click=1, none=0
  SELECT
    i.search_id,
    i.product_id,
    i.rank_pos,
    i.is_sponsored,
    c.first_click_at IS NOT NULL AS clicked,
    CASE
      WHEN p.product_id IS NOT NULL THEN 3
      WHEN EXISTS (
        SELECT 1 FROM events.add_to_cart AS atc
        WHERE atc.search_id = i.search_id AND atc.product_id = i.product_id
      ) THEN 2
      WHEN c.first_click_at IS NOT NULL THEN 1
      ELSE 0
    END AS gain
  FROM impressions AS i
  LEFT JOIN clicks AS c USING (search_id, product_id)
  LEFT JOIN purchases AS p USING (search_id, product_id)
),

per_search AS (
  SELECT
    search_id,
    MIN(IF(clicked, rank_pos, NULL)) AS first_click_rank,
    COUNTIF(clicked AND rank_pos <= 1) > 0 AS click_at_1,
    COUNTIF(clicked AND rank_pos <= 3) > 0 AS click_at_3,
    COUNTIF(clicked AND rank_pos <= 10) > 0 AS click_at_10,
    LOGICAL_OR(gain = 3) AS purchased,
    SUM(IF(rank_pos <= 10, (POW(2, gain) - 1) / LOG(rank_pos + 1, 2), 0)) AS dcg10,
    -- gains sorted descending, used for the ideal DCG below
    ARRAY_AGG(gain ORDER BY gain DESC LIMIT 10) AS top_gains,
    COUNTIF(is_sponsored AND rank_pos <= 4) AS sponsored_in_top4
  FROM graded
  GROUP BY search_id
),

classified AS (
  SELECT
    s.*,
    ps.* EXCEPT (search_id, top_gains),
    (
      SELECT SUM((POW(2, g) - 1) / LOG(o + 2, 2))
      FROM UNNEST(ps.top_gains) AS g WITH OFFSET AS o
    ) AS idcg10,
    CASE
      WHEN REGEXP_CONTAINS(s.query_norm, r'^[a-z]{2,4}-?\d{3,}$') THEN 'sku_lookup'
      WHEN s.query_terms = 1 THEN 'head_single_term'
      WHEN s.query_terms BETWEEN 2 AND 3 THEN 'torso'
      ELSE 'tail_long'
    END AS query_class,
    ARRAY_LENGTH(s.filters_applied) > 0 AS has_filters
  FROM searches AS s
  LEFT JOIN per_search AS ps USING (search_id)
),

-- searches followed by a reformulation within 60 seconds in the same session
reformulations AS (
  SELECT
    search_id,
    LEAD(searched_at) OVER (PARTITION BY session_id ORDER BY searched_at) AS next_search_at,
    LEAD(query_norm) OVER (PARTITION BY session_id ORDER BY searched_at) AS next_query
  FROM searches
)

SELECT
  c.ranker_version,
  c.query_class,
  c.has_filters,
  COUNT(*) AS searches,
  COUNT(DISTINCT c.user_id) AS users,
  COUNTIF(c.results_total = 0) AS zero_result_searches,
  ROUND(AVG(IF(c.click_at_1, 1, 0)), 4) AS ctr_at_1,
  ROUND(AVG(IF(c.click_at_3, 1, 0)), 4) AS ctr_at_3,
  ROUND(AVG(IF(c.click_at_10, 1, 0)), 4) AS ctr_at_10,
  ROUND(AVG(IFNULL(1 / c.first_click_rank, 0)), 4) AS mrr,
  ROUND(AVG(SAFE_DIVIDE(c.dcg10, c.idcg10)), 4) AS ndcg_at_10,
  ROUND(AVG(IF(c.purchased, 1, 0)), 4) AS search_conversion,
  ROUND(AVG(IF(c.first_click_rank IS NULL AND c.results_total > 0, 1, 0)), 4) AS abandonment_rate,
  ROUND(AVG(IF(
    TIMESTAMP_DIFF(r.next_search_at, c.searched_at, SECOND) <= 60 AND r.next_query != c.query_norm, 1, 0
  )), 4) AS quick_reformulation_rate,
  ROUND(AVG(c.sponsored_in_top4), 3) AS avg_sponsored_in_top4,
  -- revenue-oriented metrics
  COUNTIF(c.purchased AND c.first_click_rank > 10) AS purchases_from_below_fold,
  ROUND(AVG(IF(c.purchased, c.first_click_rank, NULL)), 2) AS avg_first_click_rank_when_purchased,
  ROUND(SAFE_DIVIDE(COUNTIF(c.results_total = 0), COUNT(*)), 4) AS zero_result_rate,
  APPROX_QUANTILES(c.results_total, 100)[OFFSET(50)] AS p50_results_total,
  APPROX_TOP_COUNT(IF(c.first_click_rank IS NULL AND c.results_total > 0, c.query_norm, NULL), 5) AS top_abandoned_queries,
  GROUPING(c.query_class) = 1 AS is_ranker_total,
FROM classified AS c
LEFT JOIN reformulations AS r USING (search_id)
GROUP BY ROLLUP (c.ranker_version, c.query_class, c.has_filters)
HAVING c.ranker_version IS NOT NULL
ORDER BY c.ranker_version, c.query_class, c.has_filters
