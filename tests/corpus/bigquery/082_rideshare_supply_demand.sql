-- Ride-hailing marketplace balance per H3-like cell (geohash-6) and 15-minute slot:
-- requests, completed trips, available drivers, ETA, surge and unfulfilled demand.
-- Supply is measured in driver-minutes overlapping each slot; demand from ride requests.
-- Slots are UTC-aligned; local time is derived per city for reporting.
-- Owner: marketplace-ops analytics
WITH requests AS (
  SELECT
    request_id,
    rider_id,
    requested_at,
    TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(requested_at), 900) * 900) AS slot_ts,
    ST_GEOHASH(ST_GEOGPOINT(pickup_lng, pickup_lat), 6) AS cell,
    city_id,
    product_type,
    status,                   -- 'completed' | 'rider_cancelled' | 'driver_cancelled' | 'no_driver'
    quoted_eta_s,
    surge_multiplier,
    matched_driver_id,
    matched_at,
    pickup_at,
    dropoff_at,
    fare_usd
  FROM marketplace.ride_requests
  WHERE requested_at >= TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR), INTERVAL 7 DAY)
),

driver_states AS (
  SELECT
    driver_id,
    state,                    -- 'available' | 'en_route' | 'on_trip' | 'offline'
    state_start,
    IFNULL(state_end, CURRENT_TIMESTAMP()) AS state_end,
    ST_GEOHASH(ST_GEOGPOINT(lng, lat), 6) AS cell,
    city_id
  FROM marketplace.driver_state_intervals
  WHERE state_start >= TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR), INTERVAL 7 DAY)
    AND state != 'offline'
),

slots AS (
  SELECT slot_ts
  FROM UNNEST(GENERATE_TIMESTAMP_ARRAY(
    TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR), INTERVAL 7 DAY),
    TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR),
    INTERVAL 15 MINUTE
  )) AS slot_ts
),

supply AS (
  -- driver-minutes available per cell and slot (overlap of state interval with the slot)
  SELECT
    d.city_id,
    d.cell,
    s.slot_ts,
    SUM(IF(d.state = 'available',
      TIMESTAMP_DIFF(LEAST(d.state_end, TIMESTAMP_ADD(s.slot_ts, INTERVAL 15 MINUTE)), GREATEST(d.state_start, s.slot_ts), SECOND), 0)) / 60 AS available_driver_minutes,
    SUM(IF(d.state IN ('en_route', 'on_trip'),
      TIMESTAMP_DIFF(LEAST(d.state_end, TIMESTAMP_ADD(s.slot_ts, INTERVAL 15 MINUTE)), GREATEST(d.state_start, s.slot_ts), SECOND), 0)) / 60 AS busy_driver_minutes,
    COUNT(DISTINCT d.driver_id) AS distinct_drivers
  FROM driver_states AS d
  JOIN slots AS s
    ON d.state_start < TIMESTAMP_ADD(s.slot_ts, INTERVAL 15 MINUTE)
   AND d.state_end > s.slot_ts
  GROUP BY d.city_id, d.cell, s.slot_ts
),

demand AS (
  SELECT
    city_id,
    cell,
    slot_ts,
    COUNT(*) AS requests,
    COUNTIF(status = 'completed') AS completed,
    COUNTIF(status = 'no_driver') AS unfulfilled,
    COUNTIF(status = 'rider_cancelled') AS rider_cancels,
    COUNTIF(status = 'driver_cancelled') AS driver_cancels,
    AVG(quoted_eta_s) AS avg_quoted_eta_s,
    AVG(IF(pickup_at IS NOT NULL, TIMESTAMP_DIFF(pickup_at, requested_at, SECOND), NULL)) AS avg_actual_pickup_s,
    AVG(surge_multiplier) AS avg_surge,
    MAX(surge_multiplier) AS max_surge,
    SUM(IF(status = 'completed', fare_usd, 0)) AS gross_bookings_usd,
    COUNT(DISTINCT rider_id) AS riders
  FROM requests
  GROUP BY city_id, cell, slot_ts
),

combined AS (
  SELECT
    COALESCE(dm.city_id, sp.city_id) AS city_id,
    COALESCE(dm.cell, sp.cell) AS cell,
    COALESCE(dm.slot_ts, sp.slot_ts) AS slot_ts,
    IFNULL(dm.requests, 0) AS requests,
    IFNULL(dm.completed, 0) AS completed,
    IFNULL(dm.unfulfilled, 0) AS unfulfilled,
    IFNULL(dm.rider_cancels, 0) AS rider_cancels,
    IFNULL(dm.driver_cancels, 0) AS driver_cancels,
    dm.avg_quoted_eta_s,
    dm.avg_actual_pickup_s,
    dm.avg_surge,
    dm.max_surge,
    IFNULL(dm.gross_bookings_usd, 0) AS gross_bookings_usd,
    IFNULL(sp.available_driver_minutes, 0) AS available_driver_minutes,
    IFNULL(sp.busy_driver_minutes, 0) AS busy_driver_minutes,
    IFNULL(sp.distinct_drivers, 0) AS distinct_drivers
  FROM demand AS dm
  FULL OUTER JOIN supply AS sp
    ON sp.city_id = dm.city_id AND sp.cell = dm.cell AND sp.slot_ts = dm.slot_ts
)

SELECT
  c.city_id,
  ct.city_name,
  c.cell,
  c.slot_ts,
  DATETIME(c.slot_ts, ct.timezone) AS slot_local,
  FORMAT_DATETIME('%A', DATETIME(c.slot_ts, ct.timezone)) AS local_weekday,
  EXTRACT(HOUR FROM DATETIME(c.slot_ts, ct.timezone)) AS local_hour,
  c.requests,
  c.completed,
  c.unfulfilled,
  c.rider_cancels,
  c.driver_cancels,
  ROUND(SAFE_DIVIDE(c.completed, c.requests), 3) AS fulfilment_rate,
  ROUND(c.available_driver_minutes, 1) AS available_driver_minutes,
  ROUND(c.busy_driver_minutes, 1) AS busy_driver_minutes,
  c.distinct_drivers,
  ROUND(SAFE_DIVIDE(c.busy_driver_minutes, c.available_driver_minutes + c.busy_driver_minutes), 3) AS utilisation,
  ROUND(SAFE_DIVIDE(c.requests, c.available_driver_minutes / 15), 2) AS requests_per_available_driver,
  ROUND(c.avg_quoted_eta_s / 60, 1) AS avg_quoted_eta_min,
  ROUND(c.avg_actual_pickup_s / 60, 1) AS avg_actual_pickup_min,
  ROUND(c.avg_surge, 2) AS avg_surge,
  c.max_surge,
  ROUND(c.gross_bookings_usd, 2) AS gross_bookings_usd,
  -- same slot last week for seasonality comparison
  SUM(c.requests) OVER (PARTITION BY c.city_id, c.cell ORDER BY UNIX_SECONDS(c.slot_ts) RANGE BETWEEN 604800 PRECEDING AND 604800 PRECEDING) AS requests_same_slot_last_week,
  CASE
    WHEN c.requests >= 5 AND SAFE_DIVIDE(c.unfulfilled, c.requests) > 0.2 THEN 'undersupplied'
    WHEN c.available_driver_minutes > 60 AND c.requests <= 1 THEN 'oversupplied'
    ELSE 'balanced'
  END AS balance_state,
  c.rider_cancels + c.driver_cancels AS total_cancels,
  ROUND(SAFE_DIVIDE(c.rider_cancels, c.requests), 3) AS rider_cancel_rate,
  ROUND(SAFE_DIVIDE(c.driver_cancels, c.requests), 3) AS driver_cancel_rate,
  ROUND(SAFE_DIVIDE(c.avg_actual_pickup_s, c.avg_quoted_eta_s), 3) AS eta_accuracy_ratio,
  ROUND(SAFE_DIVIDE(c.gross_bookings_usd, c.available_driver_minutes + c.busy_driver_minutes) * 60, 2) AS gross_bookings_per_driver_hour,
  ST_GEOGPOINTFROMGEOHASH(c.cell) AS cell_centroid
FROM combined AS c
JOIN reference.cities AS ct
  ON ct.city_id = c.city_id
WHERE c.requests > 0 OR c.available_driver_minutes > 0
