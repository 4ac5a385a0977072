-- Search index freshness: lag between catalog updates and index availability, by source system.
-- Target: p99 index lag under 15 minutes for every source system.
-- Updates not yet indexed after 24 hours are investigated by the search infra team.
-- document_version must match exactly; older versions do not count.
-- Hourly buckets in UTC.
SELECT
  u.source_system,
  TIMESTAMP_TRUNC(u.updated_at, HOUR) AS hour,
  COUNT(*) AS updates,
  COUNTIF(i.indexed_at IS NULL) AS not_yet_indexed,
  APPROX_QUANTILES(TIMESTAMP_DIFF(i.indexed_at, u.updated_at, SECOND), 100 IGNORE NULLS)[OFFSET(50)] AS p50_lag_s,
  APPROX_QUANTILES(TIMESTAMP_DIFF(i.indexed_at, u.updated_at, SECOND), 100 IGNORE NULLS)[OFFSET(99)] AS p99_lag_s,
  COUNTIF(TIMESTAMP_DIFF(i.indexed_at, u.updated_at, MINUTE) > 15) AS over_15_min
FROM `shop-analytics.catalog.product_update_log` AS u
LEFT JOIN `shop-analytics.search.index_events` AS i
  ON i.product_id = u.product_id
 AND i.document_version = u.version
WHERE u.updated_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR)
GROUP BY u.source_system, hour
ORDER BY hour DESC, u.source_system
