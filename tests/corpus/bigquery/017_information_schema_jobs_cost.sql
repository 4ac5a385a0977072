-- Most expensive queries in the last 7 days (on-demand pricing estimate)
SELECT
  user_email,
  job_id,
  creation_time,
  statement_type,
  ROUND(total_bytes_billed / POW(1024, 4), 3) AS tib_billed,
  ROUND(total_bytes_billed / POW(1024, 4) * 6.25, 2) AS est_cost_usd,
  total_slot_ms / 1000 / 3600 AS slot_hours,
  TIMESTAMP_DIFF(end_time, start_time, SECOND) AS runtime_s,
  cache_hit,
  (SELECT STRING_AGG(CONCAT(t.dataset_id, '.', t.table_id), ', ')
     FROM UNNEST(referenced_tables) AS t) AS tables_read,
  SUBSTR(query, 1, 300) AS query_preview
FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_PROJECT
WHERE creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
  AND job_type = 'QUERY'
  AND state = 'DONE'
  AND error_result IS NULL
ORDER BY total_bytes_billed DESC
LIMIT 50
