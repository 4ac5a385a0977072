-- Store opening-hours compliance: orders placed outside opening hours, in local time.
-- Click & collect orders should only be placed during store opening hours.
-- Store opening times are stored as TIME in the store's local timezone.
SELECT
  s.store_id,
  s.timezone,
  o.order_id,
  o.created_at,
  DATETIME(o.created_at, s.timezone) AS local_created,
  TIME(DATETIME(o.created_at, s.timezone)) AS local_time,
  TIME(DATETIME(o.created_at, s.timezone)) NOT BETWEEN s.opens_at AND s.closes_at AS outside_hours,
  DATETIME_DIFF(DATETIME(o.created_at, s.timezone), DATETIME '2024-01-01 00:00:00', DAY) AS days_since_fy_start,
  TIMESTAMP(DATETIME(o.created_at, s.timezone), 'UTC') AS local_as_utc_ts,
  TIME '22:00:00' AS late_cutoff,
  TIME(DATETIME(o.created_at, s.timezone)) >= TIME '22:00:00' AS is_late_night
FROM pos.orders AS o
JOIN pos.stores AS s USING (store_id)
WHERE o.created_at >= TIMESTAMP '2024-06-01 00:00:00 UTC'
  AND o.channel = 'click_and_collect'
ORDER BY o.created_at
