-- SLA windows with INTERVAL arithmetic (including the INTERVAL type and JUSTIFY functions).
-- INTERVAL values can be added to TIMESTAMP / DATETIME / DATE.
-- Subtracting two timestamps yields an INTERVAL.
-- SLA: 2 days 12 hours from creation.
SELECT
  ticket_id,
  created_at,
  created_at + INTERVAL 4 HOUR AS response_due_at,
  DATETIME(created_at, 'UTC') + INTERVAL '1 2:30:00' DAY TO SECOND AS escalation_due,
  DATE(created_at) + INTERVAL 30 DAY AS retention_until,
  solved_at - created_at AS time_to_solve,
  EXTRACT(HOUR FROM solved_at - created_at) AS hours_component,
  JUSTIFY_HOURS(solved_at - created_at) AS time_to_solve_justified,
  MAKE_INTERVAL(day => 2, hour => 12) AS standard_sla,
  solved_at - created_at > MAKE_INTERVAL(day => 2, hour => 12) AS breached
FROM support.tickets
WHERE created_at >= TIMESTAMP '2024-06-01 00:00:00+00'
  AND solved_at IS NOT NULL
ORDER BY created_at
LIMIT 10000
