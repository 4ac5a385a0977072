-- Hotel revenue management: on-the-books (OTB) pace vs same-time-last-year, by property and stay month.
-- Inputs are reservation versions (every modification creates a new version row).
-- Outputs: room nights, ADR, RevPAR, pickup over last 7/28 days, and cancellation rates.

WITH params AS (
  SELECT
    CURRENT_DATE('Europe/Madrid') AS as_of,
    DATE_SUB(CURRENT_DATE('Europe/Madrid'), INTERVAL 364 DAY) AS as_of_ly
),

reservation_versions AS (
  SELECT
    r.reservation_id,
    r.property_id,
    r.version_no,
    r.version_created_at,
    DATE(r.version_created_at, 'Europe/Madrid') AS version_date,
    r.status,                      -- 'confirmed' | 'cancelled' | 'no_show' | 'checked_out'
    r.arrival_date,
    r.departure_date,
    r.rooms,
    r.room_type_code,
    r.rate_plan_code,
    r.channel_code,
    r.total_room_revenue_eur,
    r.booked_at
  FROM pms.reservation_versions AS r
  WHERE r.arrival_date BETWEEN DATE '2023-01-01' AND DATE '2025-12-31'
),

-- state of each reservation as known at a given point in time
state_as_of AS (
  SELECT
    'current' AS snapshot,
    rv.*
  FROM reservation_versions AS rv, params AS p
  WHERE rv.version_date <= p.as_of
  QUALIFY ROW_NUMBER() OVER (PARTITION BY rv.reservation_id ORDER BY rv.version_no DESC) = 1

  UNION ALL

  SELECT
    'last_year' AS snapshot,
    rv.*
  FROM reservation_versions AS rv, params AS p
  WHERE rv.version_date <= p.as_of_ly
  QUALIFY ROW_NUMBER() OVER (PARTITION BY rv.reservation_id ORDER BY rv.version_no DESC) = 1

  UNION ALL

  SELECT
    'current_minus_7' AS snapshot,
    rv.*
  FROM reservation_versions AS rv, params AS p
  WHERE rv.version_date <= DATE_SUB(p.as_of, INTERVAL 7 DAY)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY rv.reservation_id ORDER BY rv.version_no DESC) = 1

  UNION ALL

  SELECT
    'current_minus_28' AS snapshot,
    rv.*
  FROM reservation_versions AS rv, params AS p
  WHERE rv.version_date <= DATE_SUB(p.as_of, INTERVAL 28 DAY)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY rv.reservation_id ORDER BY rv.version_no DESC) = 1
),

-- explode reservations to stay nights
stay_nights AS (
  SELECT
    s.snapshot,
    s.reservation_id,
    s.property_id,
    s.status,
    s.channel_code,
    s.rate_plan_code,
    s.rooms,
    stay_date,
    SAFE_DIVIDE(s.total_room_revenue_eur, DATE_DIFF(s.departure_date, s.arrival_date, DAY)) AS nightly_revenue,
    DATE_DIFF(s.arrival_date, DATE(s.booked_at, 'Europe/Madrid'), DAY) AS lead_time_days
  FROM state_as_of AS s,
  UNNEST(GENERATE_DATE_ARRAY(s.arrival_date, DATE_SUB(s.departure_date, INTERVAL 1 DAY))) AS stay_date
  WHERE s.departure_date > s.arrival_date
),

-- shift last-year stay dates forward by 364 days so weekdays align
aligned AS (
  SELECT
    snapshot,
    property_id,
    IF(snapshot = 'last_year', DATE_ADD(stay_date, INTERVAL 364 DAY), stay_date) AS stay_date_aligned,
    status,
    channel_code,
    rooms,
    nightly_revenue,
    lead_time_days
  FROM stay_nights
),

otb AS (
  SELECT
    property_id,
    DATE_TRUNC(stay_date_aligned, MONTH) AS stay_month,
    snapshot,
    SUM(IF(status IN ('confirmed', 'checked_out'), rooms, 0)) AS room_nights,
    SUM(IF(status IN ('confirmed', 'checked_out'), rooms * nightly_revenue, 0)) AS room_revenue,
    SUM(IF(status = 'cancelled', rooms, 0)) AS cancelled_room_nights,
    AVG(IF(status IN ('confirmed', 'checked_out'), lead_time_days, NULL)) AS avg_lead_time,
    SUM(IF(status IN ('confirmed', 'checked_out') AND channel_code IN ('BKG', 'EXP', 'AGD'), rooms, 0)) AS ota_room_nights
  FROM aligned
  GROUP BY property_id, stay_month, snapshot
),

pivoted AS (
  SELECT *
  FROM otb
  PIVOT (
    SUM(room_nights) AS rn,
    SUM(room_revenue) AS rev,
    SUM(cancelled_room_nights) AS cxl,
    AVG(avg_lead_time) AS lead,
    SUM(ota_room_nights) AS ota
    FOR snapshot IN ('current' AS cur, 'last_year' AS ly, 'current_minus_7' AS m7, 'current_minus_28' AS m28)
  )
),

capacity AS (
  SELECT
    property_id,
    DATE_TRUNC(inventory_date, MONTH) AS stay_month,
    SUM(rooms_available) AS available_room_nights
  FROM pms.daily_inventory
  WHERE rooms_available IS NOT NULL
  GROUP BY property_id, stay_month
)

SELECT
  pv.property_id,
  pr.property_name,
  pr.city,
  pv.stay_month,
  c.available_room_nights,
  IFNULL(pv.rn_cur, 0) AS otb_room_nights,
  IFNULL(pv.rn_ly, 0) AS stly_room_nights,
  IFNULL(pv.rn_cur, 0) - IFNULL(pv.rn_ly, 0) AS room_nights_vs_stly,
  ROUND(SAFE_DIVIDE(pv.rev_cur, pv.rn_cur), 2) AS otb_adr,
  ROUND(SAFE_DIVIDE(pv.rev_ly, pv.rn_ly), 2) AS stly_adr,
  ROUND(IFNULL(pv.rev_cur, 0), 2) AS otb_revenue,
  ROUND(IFNULL(pv.rev_ly, 0), 2) AS stly_revenue,
  ROUND(SAFE_DIVIDE(pv.rn_cur, c.available_room_nights), 4) AS otb_occupancy,
  ROUND(SAFE_DIVIDE(pv.rev_cur, c.available_room_nights), 2) AS otb_revpar,
  IFNULL(pv.rn_cur, 0) - IFNULL(pv.rn_m7, 0) AS pickup_7d,
  IFNULL(pv.rn_cur, 0) - IFNULL(pv.rn_m28, 0) AS pickup_28d,
  ROUND(IFNULL(pv.rev_cur, 0) - IFNULL(pv.rev_m7, 0), 2) AS revenue_pickup_7d,
  ROUND(SAFE_DIVIDE(pv.cxl_cur, pv.rn_cur + pv.cxl_cur), 4) AS cancellation_share,
  ROUND(pv.lead_cur, 1) AS avg_lead_time_days,
  ROUND(SAFE_DIVIDE(pv.ota_cur, pv.rn_cur), 4) AS ota_share,
  ROUND(SAFE_DIVIDE(pv.rev_cur - pv.rev_ly, pv.rev_ly) * 100, 1) AS revenue_pace_pct
FROM pivoted AS pv
LEFT JOIN capacity AS c USING (property_id, stay_month)
LEFT JOIN reference.properties AS pr USING (property_id)
WHERE pv.stay_month >= DATE_TRUNC((SELECT as_of FROM params), MONTH)
ORDER BY pv.property_id, pv.stay_month
