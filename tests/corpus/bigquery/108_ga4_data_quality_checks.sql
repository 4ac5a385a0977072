/* ---------------------------------------------------------------------------
   GA4 export data-quality scorecard (daily).
   Each check returns one row: check_name, observed value, threshold, status.
   Results are appended to dq.ga4_daily_checks by the orchestrator.
--------------------------------------------------------------------------- */
WITH day_events AS (
  SELECT *
  FROM `analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
),

prior_days AS (
  SELECT
    _TABLE_SUFFIX AS suffix,
    COUNT(*) AS events,
    COUNT(DISTINCT user_pseudo_id) AS users,
    COUNTIF(event_name = 'purchase') AS purchases
  FROM `analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 29 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 2 DAY))
  GROUP BY suffix
),

baseline AS (
  SELECT
    AVG(events) AS avg_events,
    STDDEV(events) AS sd_events,
    AVG(users) AS avg_users,
    AVG(purchases) AS avg_purchases
  FROM prior_days
),

stats AS (
  SELECT
    COUNT(*) AS events,
    COUNT(DISTINCT user_pseudo_id) AS users,
    COUNTIF(event_name = 'purchase') AS purchases,
    COUNTIF(event_name = 'page_view') AS pageviews,
    COUNTIF(event_name = 'page_view'
            AND (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location') IS NULL) AS pageviews_without_location,
    COUNTIF((SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') IS NULL
            AND event_name NOT IN ('first_visit', 'session_start')) AS events_without_session,
    COUNTIF(event_name = 'purchase' AND (ecommerce.transaction_id IS NULL OR ecommerce.transaction_id = '(not set)')) AS purchases_without_txn_id,
    COUNTIF(event_name = 'purchase' AND IFNULL(ecommerce.purchase_revenue_in_usd, 0) <= 0) AS purchases_without_revenue,
    COUNTIF(event_name = 'purchase' AND ARRAY_LENGTH(items) = 0) AS purchases_without_items,
    COUNT(DISTINCT IF(event_name = 'purchase', ecommerce.transaction_id, NULL)) AS distinct_txn_ids,
    COUNTIF(traffic_source.source IS NULL) AS events_without_first_user_source,
    COUNTIF(privacy_info.analytics_storage = 'No') AS events_consent_denied,
    COUNTIF(device.category IS NULL) AS events_without_device,
    COUNTIF(REGEXP_CONTAINS(event_name, r'[A-Z\s-]')) AS events_with_nonstandard_names,
    COUNT(DISTINCT event_name) AS distinct_event_names,
    COUNTIF(user_id IS NOT NULL) AS events_with_user_id,
    MAX(TIMESTAMP_MICROS(event_timestamp)) AS max_event_ts,
    MIN(TIMESTAMP_MICROS(event_timestamp)) AS min_event_ts
  FROM day_events
),

checks AS (
  SELECT 'event_volume_zscore' AS check_name,
         SAFE_DIVIDE(s.events - b.avg_events, b.sd_events) AS observed,
         -3.0 AS lower_threshold, 3.0 AS upper_threshold
  FROM stats AS s, baseline AS b
  UNION ALL
  SELECT 'users_vs_baseline_ratio', SAFE_DIVIDE(s.users, b.avg_users), 0.7, 1.5 FROM stats AS s, baseline AS b
  UNION ALL
  SELECT 'purchases_vs_baseline_ratio', SAFE_DIVIDE(s.purchases, b.avg_purchases), 0.5, 2.0 FROM stats AS s, baseline AS b
  UNION ALL
  SELECT 'pct_pageviews_without_location', SAFE_DIVIDE(pageviews_without_location, pageviews), 0.0, 0.01 FROM stats
  UNION ALL
  SELECT 'pct_events_without_session', SAFE_DIVIDE(events_without_session, events), 0.0, 0.02 FROM stats
  UNION ALL
  SELECT 'pct_purchases_without_txn_id', SAFE_DIVIDE(purchases_without_txn_id, purchases), 0.0, 0.0 FROM stats
  UNION ALL
  SELECT 'pct_purchases_without_revenue', SAFE_DIVIDE(purchases_without_revenue, purchases), 0.0, 0.01 FROM stats
  UNION ALL
  SELECT 'pct_purchases_without_items', SAFE_DIVIDE(purchases_without_items, purchases), 0.0, 0.01 FROM stats
  UNION ALL
  SELECT 'duplicate_transaction_ratio', SAFE_DIVIDE(purchases, NULLIF(distinct_txn_ids, 0)), 1.0, 1.05 FROM stats
  UNION ALL
  SELECT 'pct_consent_denied', SAFE_DIVIDE(events_consent_denied, events), 0.0, 0.6 FROM stats
  UNION ALL
  SELECT 'pct_events_without_device', SAFE_DIVIDE(events_without_device, events), 0.0, 0.001 FROM stats
  UNION ALL
  SELECT 'nonstandard_event_names', CAST(events_with_nonstandard_names AS FLOAT64), 0.0, 0.0 FROM stats
  UNION ALL
  SELECT 'distinct_event_names', CAST(distinct_event_names AS FLOAT64), 10.0, 500.0 FROM stats
  UNION ALL
  SELECT 'pct_events_with_user_id', SAFE_DIVIDE(events_with_user_id, events), 0.05, 1.0 FROM stats
  UNION ALL
  SELECT 'hours_covered', TIMESTAMP_DIFF(max_event_ts, min_event_ts, MINUTE) / 60, 23.0, 25.0 FROM stats
)

SELECT
  DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY) AS check_date,
  check_name,
  ROUND(observed, 6) AS observed,
  lower_threshold,
  upper_threshold,
  CASE
    WHEN observed IS NULL THEN 'no_data'
    WHEN observed < lower_threshold OR observed > upper_threshold THEN 'fail'
    ELSE 'pass'
  END AS status,
  CURRENT_TIMESTAMP() AS checked_at
FROM checks
ORDER BY status = 'pass', check_name
