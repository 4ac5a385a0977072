-- Quick data-quality profile on a 10% block sample of the raw clickstream.
-- TABLESAMPLE SYSTEM samples storage blocks, so results are approximate
-- but the scan cost is ~10% of a full read.
-- Distinct users is scaled by 10 as a rough estimate.
-- Owner: data-platform (#dq-alerts).
-- Thresholds for alerting are configured in the orchestrator, not here.
-- Scheduled daily at 04:00 UTC.
SELECT
  COUNT(*) AS sampled_rows,
  COUNTIF(user_id IS NULL) AS null_user_id,
  COUNTIF(session_id IS NULL) AS null_session_id,
  COUNTIF(event_ts > CURRENT_TIMESTAMP()) AS future_events,
  COUNTIF(event_ts < TIMESTAMP '2015-01-01') AS ancient_events,
  COUNTIF(NOT REGEXP_CONTAINS(page_url, r'^https?://')) AS malformed_urls,
  COUNTIF(SAFE.PARSE_JSON(properties) IS NULL AND properties IS NOT NULL) AS invalid_json_properties,
  APPROX_COUNT_DISTINCT(user_id) * 10 AS est_distinct_users,
  ROUND(COUNTIF(user_agent LIKE '%bot%' OR user_agent LIKE '%spider%') / COUNT(*), 4) AS bot_share,
  MIN(event_ts) AS min_ts,
  MAX(event_ts) AS max_ts
FROM clickstream.events TABLESAMPLE SYSTEM (10 PERCENT)
WHERE DATE(event_ts) = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
