-- Last-mile driver shift summary: stops, success rate, breaks, overtime and pay components.
WITH shifts AS (
  SELECT
    s.shift_id,
    s.driver_id,
    s.depot_id,
    s.shift_date,
    s.clock_in_at,
    s.clock_out_at,
    TIMESTAMP_DIFF(s.clock_out_at, s.clock_in_at, MINUTE) AS shift_minutes,
    s.vehicle_id,
    s.contract_type              -- 'employee' | 'contractor'
  FROM last_mile.driver_shifts AS s
  WHERE s.shift_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND s.clock_out_at IS NOT NULL
),

stops AS (
  SELECT
    st.shift_id,
    COUNT(*) AS planned_stops,
    COUNTIF(st.outcome = 'delivered') AS delivered_stops,
    COUNTIF(st.outcome = 'failed') AS failed_stops,
    COUNTIF(st.outcome = 'failed' AND st.failure_reason = 'customer_not_home') AS not_home,
    COUNTIF(st.outcome = 'failed' AND st.failure_reason = 'access_issue') AS access_issues,
    SUM(st.parcels) AS parcels,
    AVG(TIMESTAMP_DIFF(st.departed_at, st.arrived_at, SECOND)) AS avg_stop_seconds,
    COUNTIF(st.arrived_at > st.window_end) AS outside_window
  FROM last_mile.route_stops AS st
  GROUP BY st.shift_id
),

breaks AS (
  SELECT
    shift_id,
    SUM(TIMESTAMP_DIFF(ended_at, started_at, MINUTE)) AS break_minutes,
    COUNT(*) AS breaks
  FROM last_mile.driver_breaks
  GROUP BY shift_id
),

pay_rates AS (
  SELECT depot_id, contract_type, hourly_rate_eur, per_stop_rate_eur, overtime_multiplier
  FROM last_mile.pay_rates
  WHERE CURRENT_DATE() BETWEEN valid_from AND IFNULL(valid_to, DATE '9999-12-31')
)

SELECT
  sh.shift_date,
  sh.depot_id,
  sh.driver_id,
  sh.contract_type,
  sh.shift_minutes,
  IFNULL(b.break_minutes, 0) AS break_minutes,
  sh.shift_minutes - IFNULL(b.break_minutes, 0) AS worked_minutes,
  st.planned_stops,
  st.delivered_stops,
  st.failed_stops,
  st.not_home,
  st.access_issues,
  st.parcels,
  ROUND(SAFE_DIVIDE(st.delivered_stops, st.planned_stops), 4) AS success_rate,
  ROUND(SAFE_DIVIDE(st.delivered_stops, (sh.shift_minutes - IFNULL(b.break_minutes, 0)) / 60), 2) AS stops_per_hour,
  ROUND(st.avg_stop_seconds, 0) AS avg_stop_seconds,
  st.outside_window,
  -- working-time rules: 30 min break required above 6h, 45 min above 9h
  CASE
    WHEN sh.shift_minutes > 540 AND IFNULL(b.break_minutes, 0) < 45 THEN 'break_violation_9h'
    WHEN sh.shift_minutes > 360 AND IFNULL(b.break_minutes, 0) < 30 THEN 'break_violation_6h'
    ELSE 'ok'
  END AS break_compliance,
  GREATEST(sh.shift_minutes - IFNULL(b.break_minutes, 0) - 480, 0) AS overtime_minutes,
  ROUND(
    CASE sh.contract_type
      WHEN 'employee' THEN
        LEAST(sh.shift_minutes - IFNULL(b.break_minutes, 0), 480) / 60 * pr.hourly_rate_eur
        + GREATEST(sh.shift_minutes - IFNULL(b.break_minutes, 0) - 480, 0) / 60 * pr.hourly_rate_eur * pr.overtime_multiplier
      ELSE st.delivered_stops * pr.per_stop_rate_eur
    END, 2) AS estimated_pay_eur
FROM shifts AS sh
LEFT JOIN stops AS st USING (shift_id)
LEFT JOIN breaks AS b USING (shift_id)
LEFT JOIN pay_rates AS pr USING (depot_id, contract_type)
ORDER BY sh.shift_date DESC, sh.depot_id, sh.driver_id
