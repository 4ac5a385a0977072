-- Slot consumption by reservation and job owner per hour (last 3 days), to size reservations.
-- JOBS_TIMELINE has one row per job per second of execution (period_slot_ms).
-- Script parent jobs are excluded to avoid double counting child jobs.
-- slot_hours = slot-milliseconds / 3.6e6.
-- Used to size the baseline + autoscaling reservation.
-- Organisation-level view requires the resourceViewer role.
-- Region: US multi-region only.
SELECT
  TIMESTAMP_TRUNC(period_start, HOUR) AS hour,
  reservation_id,
  user_email,
  SUM(period_slot_ms) / (1000 * 60 * 60) AS slot_hours,
  SUM(period_slot_ms) / (1000 * 3600) AS avg_slots_in_hour,
  COUNT(DISTINCT job_id) AS jobs,
  MAX(period_slot_ms) / 1000 AS max_slots_in_one_second
FROM `region-us`.INFORMATION_SCHEMA.JOBS_TIMELINE_BY_ORGANIZATION
WHERE job_creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
  AND period_start >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
  AND (statement_type IS NULL OR statement_type != 'SCRIPT')
GROUP BY hour, reservation_id, user_email
HAVING slot_hours > 1
ORDER BY hour DESC, slot_hours DESC
