-- Fleet telematics: derive trips from GPS pings, then score driver behaviour.
-- A trip starts when ignition goes on (or speed > 5 km/h after a 10-minute idle gap)
-- and ends on ignition off. Harsh events come from the accelerometer stream.

WITH pings AS (
  SELECT
    vehicle_id,
    driver_id,
    ping_ts,
    ST_GEOGPOINT(longitude, latitude) AS pt,
    speed_kmh,
    ignition_on,
    odometer_km,
    fuel_level_pct,
    engine_rpm,
    heading_deg
  FROM `fleetops-prod.telematics.gps_pings`
  WHERE DATE(ping_ts) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND latitude BETWEEN -90 AND 90
    AND longitude BETWEEN -180 AND 180
    AND NOT (latitude = 0 AND longitude = 0)
),

with_prev AS (
  SELECT
    *,
    LAG(ping_ts) OVER w AS prev_ts,
    LAG(pt) OVER w AS prev_pt,
    LAG(ignition_on) OVER w AS prev_ignition,
    LAG(speed_kmh) OVER w AS prev_speed
  FROM pings
  WINDOW w AS (PARTITION BY vehicle_id ORDER BY ping_ts)
),

trip_markers AS (
  SELECT
    *,
    CASE
      WHEN prev_ts IS NULL THEN 1
      WHEN ignition_on AND NOT IFNULL(prev_ignition, FALSE) THEN 1
      WHEN TIMESTAMP_DIFF(ping_ts, prev_ts, MINUTE) >= 10 AND speed_kmh > 5 THEN 1
      ELSE 0
    END AS trip_start_flag,
    IFNULL(ST_DISTANCE(pt, prev_pt), 0) AS step_m,
    TIMESTAMP_DIFF(ping_ts, prev_ts, SECOND) AS step_s
  FROM with_prev
),

trip_ids AS (
  SELECT
    *,
    SUM(trip_start_flag) OVER (PARTITION BY vehicle_id ORDER BY ping_ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS trip_seq
  FROM trip_markers
),

trips AS (
  SELECT
    vehicle_id,
    trip_seq,
    FORMAT('%s-%s-%d', vehicle_id, FORMAT_TIMESTAMP('%Y%m%d', MIN(ping_ts)), trip_seq) AS trip_id,
    ARRAY_AGG(driver_id IGNORE NULLS ORDER BY ping_ts LIMIT 1)[SAFE_OFFSET(0)] AS driver_id,
    MIN(ping_ts) AS trip_start,
    MAX(ping_ts) AS trip_end,
    ARRAY_AGG(pt ORDER BY ping_ts LIMIT 1)[OFFSET(0)] AS start_pt,
    ARRAY_AGG(pt ORDER BY ping_ts DESC LIMIT 1)[OFFSET(0)] AS end_pt,
    SUM(IF(trip_start_flag = 1, 0, step_m)) / 1000 AS gps_km,
    MAX(odometer_km) - MIN(odometer_km) AS odometer_km,
    MAX(speed_kmh) AS max_speed_kmh,
    AVG(IF(speed_kmh > 3, speed_kmh, NULL)) AS avg_moving_speed_kmh,
    SUM(IF(speed_kmh <= 3 AND ignition_on AND trip_start_flag = 0, step_s, 0)) AS idle_seconds,
    SUM(IF(speed_kmh > 120, step_s, 0)) AS seconds_over_120,
    MAX(fuel_level_pct) - MIN(fuel_level_pct) AS fuel_used_pct,
    COUNT(*) AS pings,
    ST_MAKELINE(ARRAY_AGG(pt ORDER BY ping_ts)) AS route_line
  FROM trip_ids
  GROUP BY vehicle_id, trip_seq
  HAVING COUNT(*) >= 3
),

harsh AS (
  SELECT
    vehicle_id,
    event_ts,
    CASE
      WHEN accel_x_g <= -0.45 THEN 'harsh_brake'
      WHEN accel_x_g >= 0.40 THEN 'harsh_accel'
      WHEN ABS(accel_y_g) >= 0.45 THEN 'harsh_corner'
    END AS harsh_type
  FROM `fleetops-prod.telematics.accelerometer_events`
  WHERE DATE(event_ts) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND (accel_x_g <= -0.45 OR accel_x_g >= 0.40 OR ABS(accel_y_g) >= 0.45)
),

trip_harsh AS (
  SELECT
    t.trip_id,
    COUNTIF(h.harsh_type = 'harsh_brake') AS harsh_brakes,
    COUNTIF(h.harsh_type = 'harsh_accel') AS harsh_accels,
    COUNTIF(h.harsh_type = 'harsh_corner') AS harsh_corners
  FROM trips AS t
  LEFT JOIN harsh AS h
    ON h.vehicle_id = t.vehicle_id
   AND h.event_ts BETWEEN t.trip_start AND t.trip_end
  GROUP BY t.trip_id
),

geofences AS (
  SELECT
    geofence_id,
    geofence_name,
    geofence_type,
    ST_GEOGFROMTEXT(boundary_wkt) AS boundary
  FROM `fleetops-prod.reference.geofences`
  WHERE is_active
),

trip_geo AS (
  SELECT
    t.trip_id,
    ARRAY_AGG(IF(ST_CONTAINS(g.boundary, t.start_pt), g.geofence_name, NULL) IGNORE NULLS LIMIT 1)[SAFE_OFFSET(0)] AS start_geofence,
    ARRAY_AGG(IF(ST_CONTAINS(g.boundary, t.end_pt), g.geofence_name, NULL) IGNORE NULLS LIMIT 1)[SAFE_OFFSET(0)] AS end_geofence,
    LOGICAL_OR(g.geofence_type = 'restricted' AND ST_INTERSECTS(g.boundary, t.route_line)) AS entered_restricted_zone
  FROM trips AS t
  CROSS JOIN geofences AS g
  WHERE ST_DWITHIN(g.boundary, t.route_line, 500)
  GROUP BY t.trip_id
),

scored AS (
  SELECT
    t.* EXCEPT (route_line, start_pt, end_pt),
    ST_ASTEXT(t.start_pt) AS start_wkt,
    ST_ASTEXT(t.end_pt) AS end_wkt,
    TIMESTAMP_DIFF(t.trip_end, t.trip_start, MINUTE) AS duration_min,
    IFNULL(th.harsh_brakes, 0) AS harsh_brakes,
    IFNULL(th.harsh_accels, 0) AS harsh_accels,
    IFNULL(th.harsh_corners, 0) AS harsh_corners,
    tg.start_geofence,
    tg.end_geofence,
    IFNULL(tg.entered_restricted_zone, FALSE) AS entered_restricted_zone,
    -- events per 100 km, weighted: brakes 3, corners 2, accels 1
    SAFE_DIVIDE(
      3 * IFNULL(th.harsh_brakes, 0) + 2 * IFNULL(th.harsh_corners, 0) + IFNULL(th.harsh_accels, 0),
      NULLIF(t.gps_km, 0)
    ) * 100 AS weighted_events_per_100km,
    SAFE_DIVIDE(t.idle_seconds, TIMESTAMP_DIFF(t.trip_end, t.trip_start, SECOND)) AS idle_ratio
  FROM trips AS t
  LEFT JOIN trip_harsh AS th USING (trip_id)
  LEFT JOIN trip_geo AS tg USING (trip_id)
)

SELECT
  trip_id,
  vehicle_id,
  driver_id,
  trip_start,
  trip_end,
  duration_min,
  ROUND(gps_km, 2) AS gps_km,
  ROUND(odometer_km, 2) AS odometer_km,
  ROUND(SAFE_DIVIDE(ABS(gps_km - odometer_km), odometer_km), 3) AS gps_odometer_divergence,
  ROUND(avg_moving_speed_kmh, 1) AS avg_moving_speed_kmh,
  max_speed_kmh,
  seconds_over_120,
  idle_seconds,
  ROUND(idle_ratio, 3) AS idle_ratio,
  ROUND(fuel_used_pct, 1) AS fuel_used_pct,
  harsh_brakes,
  harsh_accels,
  harsh_corners,
  ROUND(weighted_events_per_100km, 2) AS weighted_events_per_100km,
  start_geofence,
  end_geofence,
  entered_restricted_zone,
  start_wkt,
  end_wkt,
  -- 0..100 driver score for the trip
  GREATEST(0, ROUND(
    100
    - 4 * IFNULL(weighted_events_per_100km, 0)
    - 0.05 * seconds_over_120
    - 20 * IFNULL(idle_ratio, 0)
    - IF(entered_restricted_zone, 15, 0)
  , 1)) AS trip_score,
  pings
FROM scored
WHERE duration_min >= 2
ORDER BY trip_start
