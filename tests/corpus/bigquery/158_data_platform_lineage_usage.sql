-- Data platform usage report: which tables are read, by whom, how often, and how expensive,
-- plus unused tables older than 90 days (deprecation candidates). Built on INFORMATION_SCHEMA.

WITH jobs AS (
  SELECT
    job_id,
    project_id,
    user_email,
    creation_time,
    total_bytes_billed,
    total_slot_ms,
    statement_type,
    query,
    referenced_tables,
    destination_table,
    REGEXP_CONTAINS(user_email, r'gserviceaccount\.com$') AS is_service_account,
    (SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = 'orchestrator') AS orchestrator_label,
    (SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = 'dashboard_id') AS dashboard_label
  FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_ORGANIZATION
  WHERE creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
    AND job_type = 'QUERY'
    AND state = 'DONE'
    AND error_result IS NULL
    AND (statement_type IS NULL OR statement_type != 'SCRIPT')
),

reads AS (
  SELECT
    CONCAT(t.project_id, '.', t.dataset_id, '.', t.table_id) AS table_fqn,
    t.project_id AS table_project,
    t.dataset_id,
    -- date-sharded tables (events_20240101, ...) are grouped into one family
    REGEXP_REPLACE(CONCAT(t.project_id, '.', t.dataset_id, '.', t.table_id), r'_?\d{8}$', '_*') AS table_family,
    j.job_id,
    j.user_email,
    j.is_service_account,
    j.orchestrator_label,
    j.dashboard_label,
    j.creation_time,
    j.total_bytes_billed / ARRAY_LENGTH(j.referenced_tables) AS bytes_billed_share,
    j.total_slot_ms / ARRAY_LENGTH(j.referenced_tables) AS slot_ms_share
  FROM jobs AS j,
  UNNEST(j.referenced_tables) AS t
  WHERE t.dataset_id NOT LIKE '\\_%'   -- skip anonymous/temp datasets
),

writes AS (
  SELECT
    CONCAT(destination_table.project_id, '.', destination_table.dataset_id, '.', destination_table.table_id) AS table_fqn,
    COUNT(*) AS write_jobs_90d,
    MAX(creation_time) AS last_written_at,
    ARRAY_AGG(DISTINCT user_email IGNORE NULLS LIMIT 5) AS writers
  FROM jobs
  WHERE destination_table.table_id IS NOT NULL
    AND NOT STARTS_WITH(destination_table.dataset_id, '_')
  GROUP BY table_fqn
),

usage AS (
  SELECT
    table_family,
    ANY_VALUE(table_project) AS table_project,
    ANY_VALUE(dataset_id) AS dataset_id,
    COUNT(DISTINCT job_id) AS read_jobs_90d,
    COUNT(DISTINCT IF(creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY), job_id, NULL)) AS read_jobs_30d,
    COUNT(DISTINCT IF(NOT is_service_account, user_email, NULL)) AS human_readers_90d,
    COUNT(DISTINCT IF(is_service_account, user_email, NULL)) AS service_account_readers_90d,
    COUNT(DISTINCT dashboard_label) AS dashboards_90d,
    COUNTIF(orchestrator_label IS NOT NULL) AS pipeline_reads_90d,
    ROUND(SUM(bytes_billed_share) / POW(1024, 4), 3) AS tib_billed_90d,
    ROUND(SUM(slot_ms_share) / 3600000, 1) AS slot_hours_90d,
    MAX(creation_time) AS last_read_at,
    APPROX_TOP_COUNT(user_email, 5) AS top_readers
  FROM reads
  GROUP BY table_family
),

tables AS (
  SELECT
    table_catalog,
    table_schema,
    table_name,
    CONCAT(table_catalog, '.', table_schema, '.', table_name) AS table_fqn,
    REGEXP_REPLACE(CONCAT(table_catalog, '.', table_schema, '.', table_name), r'_?\d{8}$', '_*') AS table_family,
    table_type,
    creation_time
  FROM `mkt-data-prod`.`region-us`.INFORMATION_SCHEMA.TABLES
  WHERE table_type IN ('BASE TABLE', 'VIEW', 'MATERIALIZED VIEW')
),

storage AS (
  SELECT
    CONCAT(project_id, '.', table_schema, '.', table_name) AS table_fqn,
    total_logical_bytes,
    total_physical_bytes,
    total_rows
  FROM `mkt-data-prod`.`region-us`.INFORMATION_SCHEMA.TABLE_STORAGE
  WHERE NOT deleted
),

catalog AS (
  SELECT
    t.table_family,
    ANY_VALUE(t.table_schema) AS dataset,
    ANY_VALUE(t.table_type) AS table_type,
    COUNT(*) AS shards,
    MIN(t.creation_time) AS created_at,
    SUM(IFNULL(s.total_logical_bytes, 0)) AS logical_bytes,
    SUM(IFNULL(s.total_rows, 0)) AS total_rows,
    MAX(w.last_written_at) AS last_written_at,
    SUM(IFNULL(w.write_jobs_90d, 0)) AS write_jobs_90d
  FROM tables AS t
  LEFT JOIN storage AS s USING (table_fqn)
  LEFT JOIN writes AS w USING (table_fqn)
  GROUP BY t.table_family
)

SELECT
  c.table_family,
  c.dataset,
  c.table_type,
  c.shards,
  c.created_at,
  ROUND(c.logical_bytes / POW(1024, 3), 2) AS logical_gib,
  c.total_rows,
  c.last_written_at,
  c.write_jobs_90d,
  IFNULL(u.read_jobs_90d, 0) AS read_jobs_90d,
  IFNULL(u.read_jobs_30d, 0) AS read_jobs_30d,
  IFNULL(u.human_readers_90d, 0) AS human_readers_90d,
  IFNULL(u.service_account_readers_90d, 0) AS service_account_readers_90d,
  IFNULL(u.dashboards_90d, 0) AS dashboards_90d,
  IFNULL(u.pipeline_reads_90d, 0) AS pipeline_reads_90d,
  IFNULL(u.tib_billed_90d, 0) AS tib_billed_90d,
  IFNULL(u.slot_hours_90d, 0) AS slot_hours_90d,
  u.last_read_at,
  u.top_readers,
  CASE
    WHEN u.table_family IS NULL AND c.created_at < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY) THEN 'deprecation_candidate'
    WHEN IFNULL(u.read_jobs_30d, 0) = 0 THEN 'cooling'
    WHEN u.human_readers_90d >= 10 OR u.dashboards_90d >= 3 THEN 'critical'
    ELSE 'active'
  END AS usage_tier,
  ROUND(c.logical_bytes / POW(1024, 3) * 0.02, 2) AS est_monthly_storage_usd,
  -- cost per read helps spot tables that are expensive to query relative to their use
  ROUND(SAFE_DIVIDE(IFNULL(u.tib_billed_90d, 0) * 6.25, u.read_jobs_90d), 4) AS est_usd_per_read,
  DATE_DIFF(CURRENT_DATE(), DATE(COALESCE(u.last_read_at, c.created_at)), DAY) AS days_since_last_read,
  DATE_DIFF(CURRENT_DATE(), DATE(c.last_written_at), DAY) AS days_since_last_write
FROM catalog AS c
LEFT JOIN usage AS u USING (table_family)
ORDER BY usage_tier, logical_gib DESC
