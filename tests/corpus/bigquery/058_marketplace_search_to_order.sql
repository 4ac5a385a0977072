-- Search-to-order journey for the marketplace app (Firebase export).
-- For each search, did the user view a listing, contact the seller, add to cart or buy
-- within the same session? Broken down by query category and result-count bucket.
-- Downstream events are attributed to the most recent search in the session
-- (until the next search, capped at 2 hours).
-- Owner: marketplace-search analytics
-- Schedule: daily 06:00 UTC, 14-day rolling window
-- Changelog:
--   2024-03  switched to search_id param when present (app >= 5.12)
--   2024-05  added grouping-set subtotals
--   2024-07  dead-end term list for the query understanding team
--   2024-09  quick refinement rate
--   2024-10  searcher-level conversion
--   2024-11  result_count buckets aligned with the search dashboard
--   2024-12  top app versions / countries for debugging regressions
--   2025-01  excluded save_listing from view counts

WITH ev AS (
  SELECT
    user_pseudo_id,
    TIMESTAMP_MICROS(event_timestamp) AS ts,
    event_name,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'search_term') AS search_term,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'result_count') AS result_count,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'search_id') AS search_id,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'listing_id') AS listing_id,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'category_id') AS category_id,
    (SELECT COALESCE(value.double_value, CAST(value.int_value AS FLOAT64))
       FROM UNNEST(event_params) WHERE key = 'value') AS value,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'currency') AS currency,
    app_info.version AS app_version,
    platform,
    geo.country AS country
  FROM `mkt-firebase.analytics_201938475.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
    AND event_name IN ('search', 'view_search_results', 'select_content', 'view_item',
                       'contact_seller', 'add_to_cart', 'purchase', 'save_listing')
),

searches AS (
  SELECT
    user_pseudo_id,
    session_id,
    COALESCE(search_id, FORMAT('%s-%d', user_pseudo_id, UNIX_MICROS(ts))) AS search_key,
    ts AS searched_at,
    LOWER(TRIM(search_term)) AS search_term,
    result_count,
    category_id AS search_category_id,
    app_version,
    platform,
    country,
    LEAD(ts) OVER (PARTITION BY user_pseudo_id, session_id ORDER BY ts) AS next_search_at
  FROM ev
  WHERE event_name = 'search'
),

downstream AS (
  SELECT
    s.search_key,
    COUNTIF(e.event_name = 'view_item') AS listing_views,
    COUNT(DISTINCT IF(e.event_name = 'view_item', e.listing_id, NULL)) AS distinct_listings_viewed,
    COUNTIF(e.event_name = 'save_listing') AS saves,
    COUNTIF(e.event_name = 'contact_seller') AS contacts,
    COUNTIF(e.event_name = 'add_to_cart') AS carts,
    COUNTIF(e.event_name = 'purchase') AS purchases,
    SUM(IF(e.event_name = 'purchase', e.value, 0)) AS purchase_value,
    MIN(IF(e.event_name = 'view_item', e.ts, NULL)) AS first_view_at,
    MIN(IF(e.event_name = 'purchase', e.ts, NULL)) AS first_purchase_at
  FROM searches AS s
  LEFT JOIN ev AS e
    ON e.user_pseudo_id = s.user_pseudo_id
   AND e.session_id = s.session_id
   AND e.ts > s.searched_at
   -- downstream events belong to the search until the next search in the session
   AND e.ts < COALESCE(s.next_search_at, TIMESTAMP_ADD(s.searched_at, INTERVAL 2 HOUR))
   AND e.event_name != 'search'
  GROUP BY s.search_key
),

categories AS (
  -- category tree is slowly changing; we use the current version
  -- (historical re-categorisations are rare and ignored here)
  SELECT
    category_id,
    category_name,
    parent_category_name,
    vertical
  FROM `mkt-data-prod.core.categories`
),

joined AS (
  SELECT
    s.*,
    d.* EXCEPT (search_key),
    c.category_name,
    c.vertical,
    CASE
      WHEN s.result_count IS NULL THEN 'unknown'
      WHEN s.result_count = 0 THEN '0'
      WHEN s.result_count <= 10 THEN '1-10'
      WHEN s.result_count <= 100 THEN '11-100'
      WHEN s.result_count <= 1000 THEN '101-1000'
      ELSE '1000+'
    END AS result_bucket,
    ARRAY_LENGTH(SPLIT(s.search_term, ' ')) AS term_count,
    s.next_search_at IS NOT NULL
      AND TIMESTAMP_DIFF(s.next_search_at, s.searched_at, SECOND) < 30 AS refined_quickly
  FROM searches AS s
  LEFT JOIN downstream AS d USING (search_key)
  LEFT JOIN categories AS c
    ON c.category_id = s.search_category_id
)

SELECT
  IFNULL(vertical, '(all verticals)') AS vertical,
  result_bucket,
  platform,
  COUNT(*) AS searches,
  COUNT(DISTINCT user_pseudo_id) AS searchers,
  ROUND(AVG(term_count), 2) AS avg_terms,
  ROUND(COUNTIF(listing_views > 0) / COUNT(*), 4) AS search_to_view,
  ROUND(COUNTIF(saves > 0) / COUNT(*), 4) AS search_to_save,
  ROUND(COUNTIF(contacts > 0) / COUNT(*), 4) AS search_to_contact,
  ROUND(COUNTIF(carts > 0) / COUNT(*), 4) AS search_to_cart,
  ROUND(COUNTIF(purchases > 0) / COUNT(*), 4) AS search_to_purchase,
  ROUND(SUM(purchase_value), 2) AS purchase_value,
  ROUND(SAFE_DIVIDE(SUM(purchase_value), COUNT(*)), 4) AS value_per_search,
  ROUND(AVG(distinct_listings_viewed), 2) AS avg_listings_viewed,
  APPROX_QUANTILES(TIMESTAMP_DIFF(first_view_at, searched_at, SECOND), 100 IGNORE NULLS)[OFFSET(50)] AS p50_secs_to_first_view,
  APPROX_QUANTILES(TIMESTAMP_DIFF(first_purchase_at, searched_at, MINUTE), 100 IGNORE NULLS)[OFFSET(50)] AS p50_mins_to_purchase,
  ROUND(COUNTIF(refined_quickly) / COUNT(*), 4) AS quick_refinement_rate,
  APPROX_TOP_COUNT(IF(listing_views = 0, search_term, NULL), 10) AS top_dead_end_terms,
  ROUND(COUNTIF(result_count = 0) / COUNT(*), 4) AS zero_result_rate,
  ROUND(AVG(IF(purchases > 0, listing_views, NULL)), 2) AS avg_views_before_purchase,
  COUNT(DISTINCT IF(purchases > 0, user_pseudo_id, NULL)) AS purchasing_searchers,
  ROUND(SAFE_DIVIDE(COUNT(DISTINCT IF(purchases > 0, user_pseudo_id, NULL)), COUNT(DISTINCT user_pseudo_id)), 4) AS searcher_conversion,
  ROUND(SAFE_DIVIDE(SUM(contacts), COUNTIF(contacts > 0)), 2) AS contacts_per_contacting_search,
  APPROX_TOP_COUNT(app_version, 3) AS top_app_versions,
  APPROX_TOP_COUNT(country, 5) AS top_countries,
  GROUPING(vertical) = 1 AS is_all_verticals,
  GROUPING(result_bucket) = 1 AS is_all_result_buckets
FROM joined
GROUP BY GROUPING SETS (
  (vertical, result_bucket, platform),
  (result_bucket, platform),
  (platform)
)
ORDER BY platform, vertical NULLS FIRST, result_bucket
