-- Route efficiency per driver-day: actual driven distance vs straight-line sum of stops.
WITH stops AS (
  SELECT
    route_id,
    driver_id,
    route_date,
    stop_sequence,
    ST_GEOGPOINT(lng, lat) AS pt,
    arrived_at,
    departed_at
  FROM `logi-analytics.last_mile.route_stops`
  WHERE route_date = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
),
legs AS (
  SELECT
    route_id,
    driver_id,
    route_date,
    stop_sequence,
    ST_DISTANCE(pt, LAG(pt) OVER (PARTITION BY route_id ORDER BY stop_sequence)) AS leg_m,
    TIMESTAMP_DIFF(departed_at, arrived_at, SECOND) AS dwell_s
  FROM stops
)
SELECT
  l.route_id,
  l.driver_id,
  l.route_date,
  COUNT(*) AS stops,
  ROUND(SUM(l.leg_m) / 1000, 2) AS straight_line_km,
  ROUND(t.odometer_km, 2) AS driven_km,
  ROUND(SAFE_DIVIDE(t.odometer_km, SUM(l.leg_m) / 1000), 2) AS circuity,
  ROUND(AVG(l.dwell_s) / 60, 1) AS avg_dwell_min
FROM legs AS l
JOIN `logi-analytics.last_mile.route_telematics` AS t USING (route_id)
GROUP BY l.route_id, l.driver_id, l.route_date, t.odometer_km
ORDER BY circuity DESC
