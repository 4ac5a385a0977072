-- People analytics: monthly headcount, hires, exits and attrition by org and level.
-- Built from effective-dated HRIS job records (one row per change, valid_from/valid_to).
-- Regretted attrition uses the exit interview classification.

WITH months AS (
  SELECT
    month_start,
    LAST_DAY(month_start, MONTH) AS month_end
  FROM UNNEST(GENERATE_DATE_ARRAY(DATE '2022-01-01', DATE_TRUNC(CURRENT_DATE(), MONTH), INTERVAL 1 MONTH)) AS month_start
),

job_records AS (
  SELECT
    j.employee_id,
    j.valid_from,
    IFNULL(j.valid_to, DATE '9999-12-31') AS valid_to,
    j.org_unit_id,
    j.job_level,
    j.job_family,
    j.employment_type,        -- 'FTE' | 'contractor' | 'intern'
    j.location_country,
    j.manager_id,
    j.fte_ratio
  FROM `people-analytics.hris.job_records` AS j
  WHERE j.employment_type IN ('FTE', 'intern')
),

employees AS (
  SELECT
    employee_id,
    hire_date,
    termination_date,
    termination_type,         -- 'voluntary' | 'involuntary' | 'end_of_contract'
    gender,
    birth_year
  FROM `people-analytics.hris.employees`
),

exit_interviews AS (
  SELECT employee_id, regretted, primary_reason
  FROM `people-analytics.hris.exit_interviews`
),

org AS (
  SELECT
    org_unit_id,
    org_unit_name,
    -- path like 'Company > Engineering > Platform > Data'
    SPLIT(org_path, ' > ')[SAFE_OFFSET(1)] AS division,
    SPLIT(org_path, ' > ')[SAFE_OFFSET(2)] AS department
  FROM `people-analytics.hris.org_units`
),

month_end_state AS (
  SELECT
    m.month_start,
    m.month_end,
    jr.employee_id,
    jr.org_unit_id,
    jr.job_level,
    jr.job_family,
    jr.location_country,
    jr.fte_ratio
  FROM months AS m
  JOIN job_records AS jr
    ON m.month_end BETWEEN jr.valid_from AND jr.valid_to
  JOIN employees AS e
    ON e.employee_id = jr.employee_id
   AND e.hire_date <= m.month_end
   AND (e.termination_date IS NULL OR e.termination_date > m.month_end)
),

start_of_month_state AS (
  SELECT
    m.month_start,
    jr.employee_id,
    jr.org_unit_id,
    jr.job_level
  FROM months AS m
  JOIN job_records AS jr
    ON DATE_SUB(m.month_start, INTERVAL 1 DAY) BETWEEN jr.valid_from AND jr.valid_to
  JOIN employees AS e
    ON e.employee_id = jr.employee_id
   AND e.hire_date < m.month_start
   AND (e.termination_date IS NULL OR e.termination_date >= m.month_start)
),

hires AS (
  SELECT
    DATE_TRUNC(e.hire_date, MONTH) AS month_start,
    jr.org_unit_id,
    jr.job_level,
    COUNT(*) AS hires
  FROM employees AS e
  JOIN job_records AS jr
    ON jr.employee_id = e.employee_id
   AND e.hire_date BETWEEN jr.valid_from AND jr.valid_to
  GROUP BY 1, 2, 3
),

exits AS (
  SELECT
    DATE_TRUNC(e.termination_date, MONTH) AS month_start,
    jr.org_unit_id,
    jr.job_level,
    COUNT(*) AS exits,
    COUNTIF(e.termination_type = 'voluntary') AS voluntary_exits,
    COUNTIF(e.termination_type = 'voluntary' AND ei.regretted) AS regretted_exits,
    AVG(DATE_DIFF(e.termination_date, e.hire_date, MONTH)) AS avg_tenure_months_at_exit,
    APPROX_TOP_COUNT(ei.primary_reason, 3) AS top_exit_reasons
  FROM employees AS e
  JOIN job_records AS jr
    ON jr.employee_id = e.employee_id
   AND DATE_SUB(e.termination_date, INTERVAL 1 DAY) BETWEEN jr.valid_from AND jr.valid_to
  LEFT JOIN exit_interviews AS ei
    ON ei.employee_id = e.employee_id
  WHERE e.termination_date IS NOT NULL
  GROUP BY 1, 2, 3
),

headcount AS (
  SELECT
    month_start,
    org_unit_id,
    job_level,
    COUNT(*) AS headcount_eom,
    SUM(fte_ratio) AS fte_eom,
    COUNT(DISTINCT location_country) AS countries
  FROM month_end_state
  GROUP BY 1, 2, 3
),

headcount_start AS (
  SELECT month_start, org_unit_id, job_level, COUNT(*) AS headcount_som
  FROM start_of_month_state
  GROUP BY 1, 2, 3
),

combined AS (
  SELECT
    COALESCE(h.month_start, hs.month_start, hi.month_start, ex.month_start) AS month_start,
    COALESCE(h.org_unit_id, hs.org_unit_id, hi.org_unit_id, ex.org_unit_id) AS org_unit_id,
    COALESCE(h.job_level, hs.job_level, hi.job_level, ex.job_level) AS job_level,
    IFNULL(hs.headcount_som, 0) AS headcount_som,
    IFNULL(h.headcount_eom, 0) AS headcount_eom,
    IFNULL(h.fte_eom, 0) AS fte_eom,
    IFNULL(hi.hires, 0) AS hires,
    IFNULL(ex.exits, 0) AS exits,
    IFNULL(ex.voluntary_exits, 0) AS voluntary_exits,
    IFNULL(ex.regretted_exits, 0) AS regretted_exits,
    ex.avg_tenure_months_at_exit,
    ex.top_exit_reasons
  FROM headcount AS h
  FULL OUTER JOIN headcount_start AS hs USING (month_start, org_unit_id, job_level)
  FULL OUTER JOIN hires AS hi USING (month_start, org_unit_id, job_level)
  FULL OUTER JOIN exits AS ex USING (month_start, org_unit_id, job_level)
)

SELECT
  c.month_start,
  o.division,
  o.department,
  o.org_unit_name,
  c.job_level,
  c.headcount_som,
  c.hires,
  c.exits,
  c.headcount_eom,
  ROUND(c.fte_eom, 1) AS fte_eom,
  -- transfers in/out explain the remaining difference
  c.headcount_eom - c.headcount_som - c.hires + c.exits AS net_internal_transfers,
  c.voluntary_exits,
  c.regretted_exits,
  ROUND(c.avg_tenure_months_at_exit, 1) AS avg_tenure_months_at_exit,
  c.top_exit_reasons,
  ROUND(SAFE_DIVIDE(c.exits, (c.headcount_som + c.headcount_eom) / 2), 4) AS monthly_attrition_rate,
  -- trailing-twelve-month attrition for the org unit
  ROUND(SAFE_DIVIDE(
    SUM(c.exits) OVER ttm,
    AVG((c.headcount_som + c.headcount_eom) / 2) OVER ttm
  ), 4) AS ttm_attrition_rate,
  ROUND(SAFE_DIVIDE(
    SUM(c.regretted_exits) OVER ttm,
    AVG((c.headcount_som + c.headcount_eom) / 2) OVER ttm
  ), 4) AS ttm_regretted_attrition_rate
FROM combined AS c
LEFT JOIN org AS o USING (org_unit_id)
WHERE c.month_start < DATE_TRUNC(CURRENT_DATE(), MONTH)
WINDOW ttm AS (
  PARTITION BY c.org_unit_id, c.job_level
  ORDER BY c.month_start
  ROWS BETWEEN 11 PRECEDING AND CURRENT ROW
)
ORDER BY c.month_start DESC, o.division, o.department, c.job_level
