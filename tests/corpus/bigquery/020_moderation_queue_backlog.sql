-- Live backlog of the human review queues (open + claimed items).
-- Priority 1 = highest. Test queues are prefixed with test_.
-- Runs every 15 minutes; feeds the T&S on-call dashboard.
-- Age is measured from enqueue time, not report time.
-- p50/p95 ages in minutes.
-- Alert rule lives in the dashboard: older_than_24h > 0 for priority 1.
SELECT
  queue_name,
  priority,
  COUNT(*) AS open_items,
  COUNTIF(TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), enqueued_at, HOUR) > 24) AS older_than_24h,
  MIN(enqueued_at) AS oldest_item_at,
  APPROX_QUANTILES(TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), enqueued_at, MINUTE), 100)[OFFSET(50)] AS p50_age_min,
  APPROX_QUANTILES(TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), enqueued_at, MINUTE), 100)[OFFSET(95)] AS p95_age_min,
  COUNT(DISTINCT reported_content_id) AS distinct_content
FROM `trust-safety-prod.moderation.review_queue_items`
WHERE status IN ('open', 'claimed')
  AND queue_name NOT LIKE 'test_%'
GROUP BY queue_name, priority
ORDER BY priority, open_items DESC
