-- Current state per shipment from an event log using MAX_BY / MIN_BY.
-- Stuck shipments: not delivered/returned and no scan for 72 hours.
-- MIN_BY / MAX_BY pick the value at the earliest / latest event.
-- Feeds the carrier escalation queue.
SELECT
  shipment_id,
  MIN_BY(location_code, event_ts) AS origin_location,
  MAX_BY(location_code, event_ts) AS last_location,
  MAX_BY(status, event_ts) AS current_status,
  MIN(event_ts) AS first_event_at,
  MAX(event_ts) AS last_event_at,
  COUNT(*) AS events,
  LOGICAL_OR(status = 'exception') AS had_exception,
  STRING_AGG(status, ' > ' ORDER BY event_ts) AS status_path
FROM `logi-analytics.ops.shipment_events`
WHERE event_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY shipment_id
HAVING current_status NOT IN ('delivered', 'returned')
   AND last_event_at < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 72 HOUR)
ORDER BY last_event_at
