-- Delivery SLA performance per carrier / lane / week.
-- SLA is promised business days, excluding weekends and regional holidays.
WITH holidays AS (
  SELECT country_code, holiday_date
  FROM `logi-analytics.reference.public_holidays`
  WHERE holiday_date BETWEEN DATE '2023-01-01' AND DATE '2025-12-31'
),

parcels AS (
  SELECT
    p.parcel_id,
    p.shipment_id,
    p.carrier_code,
    p.service_level,
    p.origin_country,
    p.origin_hub,
    p.dest_country,
    p.dest_postal_code,
    p.weight_grams,
    p.created_at,
    p.promised_business_days,
    ST_GEOGPOINT(p.origin_lng, p.origin_lat) AS origin_point,
    ST_GEOGPOINT(p.dest_lng, p.dest_lat) AS dest_point
  FROM `logi-analytics.ops.parcels` AS p
  WHERE p.created_at >= TIMESTAMP '2024-01-01 00:00:00+00'
    AND p.carrier_code IS NOT NULL
),

scan_events AS (
  SELECT
    parcel_id,
    event_code,
    event_ts,
    facility_id,
    ROW_NUMBER() OVER (PARTITION BY parcel_id, event_code ORDER BY event_ts) AS rn
  FROM `logi-analytics.ops.carrier_scan_events`
  WHERE event_ts >= TIMESTAMP '2024-01-01 00:00:00+00'
),

milestones AS (
  SELECT
    parcel_id,
    MIN(IF(event_code = 'PICKED_UP', event_ts, NULL)) AS picked_up_at,
    MIN(IF(event_code = 'ARRIVED_HUB', event_ts, NULL)) AS first_hub_at,
    MIN(IF(event_code = 'OUT_FOR_DELIVERY', event_ts, NULL)) AS out_for_delivery_at,
    MIN(IF(event_code = 'DELIVERED', event_ts, NULL)) AS delivered_at,
    COUNTIF(event_code = 'DELIVERY_ATTEMPT_FAILED') AS failed_attempts,
    COUNTIF(event_code = 'RETURNED_TO_SENDER') > 0 AS returned_to_sender,
    COUNT(DISTINCT facility_id) AS facilities_touched
  FROM scan_events
  WHERE rn = 1 OR event_code = 'DELIVERY_ATTEMPT_FAILED'
  GROUP BY parcel_id
),

business_days AS (
  -- count business days between pickup and delivery for each parcel
  SELECT
    p.parcel_id,
    COUNTIF(
      EXTRACT(DAYOFWEEK FROM d) NOT IN (1, 7)
      AND h.holiday_date IS NULL
    ) - 1 AS business_days_in_transit
  FROM parcels AS p
  JOIN milestones AS m USING (parcel_id)
  CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(DATE(m.picked_up_at), DATE(m.delivered_at))) AS d
  LEFT JOIN holidays AS h
    ON h.country_code = p.dest_country
   AND h.holiday_date = d
  WHERE m.picked_up_at IS NOT NULL
    AND m.delivered_at IS NOT NULL
  GROUP BY p.parcel_id
),

enriched AS (
  SELECT
    p.*,
    m.picked_up_at,
    m.first_hub_at,
    m.out_for_delivery_at,
    m.delivered_at,
    m.failed_attempts,
    m.returned_to_sender,
    m.facilities_touched,
    bd.business_days_in_transit,
    ROUND(ST_DISTANCE(p.origin_point, p.dest_point) / 1000, 1) AS lane_distance_km,
    CONCAT(p.origin_country, '-', p.dest_country) AS lane,
    CASE
      WHEN p.weight_grams < 500 THEN 'xs'
      WHEN p.weight_grams < 2000 THEN 's'
      WHEN p.weight_grams < 10000 THEN 'm'
      WHEN p.weight_grams < 30000 THEN 'l'
      ELSE 'xl'
    END AS weight_band
  FROM parcels AS p
  LEFT JOIN milestones AS m USING (parcel_id)
  LEFT JOIN business_days AS bd USING (parcel_id)
),

scored AS (
  SELECT
    *,
    DATE_TRUNC(DATE(created_at), WEEK(MONDAY)) AS week_start,
    delivered_at IS NOT NULL AS is_delivered,
    business_days_in_transit <= promised_business_days AS on_time,
    business_days_in_transit - promised_business_days AS days_late,
    TIMESTAMP_DIFF(picked_up_at, created_at, HOUR) AS hours_to_pickup,
    TIMESTAMP_DIFF(delivered_at, out_for_delivery_at, MINUTE) AS last_mile_minutes
  FROM enriched
)

SELECT
  week_start,
  carrier_code,
  service_level,
  lane,
  weight_band,
  COUNT(*) AS parcels,
  COUNTIF(is_delivered) AS delivered,
  COUNTIF(returned_to_sender) AS rts,
  COUNTIF(on_time) AS on_time,
  ROUND(SAFE_DIVIDE(COUNTIF(on_time), COUNTIF(is_delivered)), 4) AS on_time_rate,
  ROUND(AVG(IF(days_late > 0, days_late, NULL)), 2) AS avg_days_late_when_late,
  APPROX_QUANTILES(business_days_in_transit, 100)[OFFSET(50)] AS p50_transit_bd,
  APPROX_QUANTILES(business_days_in_transit, 100)[OFFSET(90)] AS p90_transit_bd,
  APPROX_QUANTILES(hours_to_pickup, 100 IGNORE NULLS)[OFFSET(50)] AS p50_hours_to_pickup,
  AVG(last_mile_minutes) AS avg_last_mile_minutes,
  SUM(failed_attempts) AS failed_delivery_attempts,
  ROUND(AVG(lane_distance_km), 0) AS avg_lane_km,
  AVG(facilities_touched) AS avg_facilities,
  -- first-attempt success and exception metrics
  COUNTIF(failed_attempts > 0) AS parcels_with_failed_attempt,
  ROUND(SAFE_DIVIDE(COUNTIF(is_delivered AND failed_attempts = 0), COUNTIF(is_delivered)), 4) AS first_attempt_success_rate,
  COUNTIF(is_delivered AND days_late >= 3) AS severely_late,
  ROUND(SAFE_DIVIDE(COUNTIF(returned_to_sender), COUNT(*)), 4) AS rts_rate,
  COUNTIF(picked_up_at IS NULL AND TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), created_at, HOUR) > 48) AS not_picked_up_48h,
  COUNTIF(NOT is_delivered AND NOT returned_to_sender
          AND business_days_in_transit IS NULL
          AND DATE_DIFF(CURRENT_DATE(), DATE(created_at), DAY) > promised_business_days + 5) AS likely_lost,
  -- subtotal markers for the BI layer
  GROUPING(lane) = 1 AS is_lane_subtotal,
  GROUPING(service_level) = 1 AS is_service_level_subtotal,
  GROUPING(carrier_code) = 1 AS is_carrier_subtotal,
FROM scored
GROUP BY GROUPING SETS (
  (week_start, carrier_code, service_level, lane, weight_band),
  (week_start, carrier_code, service_level),
  (week_start, carrier_code),
  (week_start)
)
HAVING COUNT(*) >= 20
ORDER BY week_start DESC, carrier_code NULLS FIRST, service_level NULLS FIRST, parcels DESC
