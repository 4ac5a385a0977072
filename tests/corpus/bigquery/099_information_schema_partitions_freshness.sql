-- Partition freshness monitor: latest partition and row counts for daily-partitioned tables.
WITH parts AS (
  SELECT
    table_schema,
    table_name,
    partition_id,
    total_rows,
    last_modified_time,
    SAFE.PARSE_DATE('%Y%m%d', partition_id) AS partition_date,
    MAX(SAFE.PARSE_DATE('%Y%m%d', partition_id)) OVER (PARTITION BY table_schema, table_name) AS max_partition_date
  FROM `mkt-data-prod.marts.INFORMATION_SCHEMA.PARTITIONS`
  WHERE partition_id NOT IN ('__NULL__', '__UNPARTITIONED__')
)
SELECT
  table_schema,
  table_name,
  MAX(partition_date) AS latest_partition,
  DATE_DIFF(CURRENT_DATE(), MAX(partition_date), DAY) AS days_behind,
  MAX_BY(total_rows, partition_date) AS latest_partition_rows,
  AVG(IF(partition_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 8 DAY) AND partition_date < max_partition_date, total_rows, NULL)) AS avg_rows_prior_week,
  MAX(last_modified_time) AS last_modified_time
FROM parts
WHERE partition_date IS NOT NULL
GROUP BY table_schema, table_name
HAVING days_behind > 1
ORDER BY days_behind DESC
