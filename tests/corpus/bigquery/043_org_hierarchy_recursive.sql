-- Flatten the employee reporting tree and compute span of control per manager.
WITH RECURSIVE chain AS (
  SELECT
    employee_id,
    manager_id,
    full_name,
    employee_id AS root_id,
    0 AS depth,
    [employee_id] AS path
  FROM `people-analytics.hris.employees`
  WHERE manager_id IS NULL
    AND termination_date IS NULL

  UNION ALL

  SELECT
    e.employee_id,
    e.manager_id,
    e.full_name,
    c.root_id,
    c.depth + 1,
    ARRAY_CONCAT(c.path, [e.employee_id])
  FROM `people-analytics.hris.employees` AS e
  JOIN chain AS c
    ON e.manager_id = c.employee_id
  WHERE e.termination_date IS NULL
    AND c.depth < 15
)
SELECT
  c.employee_id,
  c.full_name,
  c.depth AS level_from_ceo,
  c.path[SAFE_ORDINAL(2)] AS exec_leader_id,
  c.path[SAFE_ORDINAL(3)] AS vp_id,
  ARRAY_LENGTH(c.path) AS path_len,
  (SELECT COUNT(*) FROM chain AS d WHERE d.manager_id = c.employee_id) AS direct_reports,
  (SELECT COUNT(*) FROM chain AS d WHERE c.employee_id IN UNNEST(d.path) AND d.employee_id != c.employee_id) AS total_reports
FROM chain AS c
ORDER BY c.depth, c.full_name
