# Cloud cost anomaly detection per project x service.
# Daily net cost is compared with a 28-day trailing baseline (median and MAD) that excludes
# the current day; week-over-week growth and new-SKU detection are added for context.
# Output feeds the #finops-alerts Slack bot.

WITH billing AS (
  SELECT
    DATE(usage_start_time, 'America/Los_Angeles') AS usage_date,
    project.id AS project_id,
    project.name AS project_name,
    service.description AS service,
    sku.id AS sku_id,
    sku.description AS sku,
    cost,
    IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c WHERE c.type != 'COMMITTED_USAGE_DISCOUNT'), 0) AS non_cud_credits,
    IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c WHERE c.type = 'COMMITTED_USAGE_DISCOUNT'), 0) AS cud_credits,
    (SELECT l.value FROM UNNEST(project.labels) AS l WHERE l.key = 'cost-center') AS cost_center,
    (SELECT l.value FROM UNNEST(project.labels) AS l WHERE l.key = 'owner') AS owner
  FROM billing_export.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9
  WHERE _PARTITIONTIME >= TIMESTAMP(DATE_SUB(CURRENT_DATE(), INTERVAL 45 DAY))
    AND DATE(usage_start_time, 'America/Los_Angeles') BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 40 DAY)
                                                          AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND cost_type = 'regular'
),

daily AS (
  SELECT
    usage_date,
    project_id,
    ANY_VALUE(project_name) AS project_name,
    service,
    ANY_VALUE(cost_center) AS cost_center,
    ANY_VALUE(owner) AS owner,
    SUM(cost + non_cud_credits + cud_credits) AS net_cost,
    SUM(cost) AS gross_cost,
    COUNT(DISTINCT sku_id) AS skus
  FROM billing
  GROUP BY usage_date, project_id, service
),

-- dense calendar so that days with zero spend are part of the baseline
calendar AS (
  SELECT d AS usage_date
  FROM UNNEST(GENERATE_DATE_ARRAY(DATE_SUB(CURRENT_DATE(), INTERVAL 40 DAY), DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))) AS d
),

keys AS (
  SELECT DISTINCT project_id, service FROM daily
),

dense AS (
  SELECT
    c.usage_date,
    k.project_id,
    k.service,
    IFNULL(d.net_cost, 0) AS net_cost,
    IFNULL(d.gross_cost, 0) AS gross_cost,
    IFNULL(d.skus, 0) AS skus
  FROM calendar AS c
  CROSS JOIN keys AS k
  LEFT JOIN daily AS d USING (usage_date, project_id, service)
),

baseline AS (
  SELECT
    cur.usage_date,
    cur.project_id,
    cur.service,
    cur.net_cost,
    cur.gross_cost,
    APPROX_QUANTILES(hist.net_cost, 2)[OFFSET(1)] AS median_28d,
    AVG(hist.net_cost) AS mean_28d,
    STDDEV_POP(hist.net_cost) AS sd_28d,
    MAX(hist.net_cost) AS max_28d,
    SUM(IF(hist.usage_date = DATE_SUB(cur.usage_date, INTERVAL 7 DAY), hist.net_cost, 0)) AS same_day_last_week
  FROM dense AS cur
  JOIN dense AS hist
    ON hist.project_id = cur.project_id
   AND hist.service = cur.service
   AND hist.usage_date BETWEEN DATE_SUB(cur.usage_date, INTERVAL 28 DAY) AND DATE_SUB(cur.usage_date, INTERVAL 1 DAY)
  WHERE cur.usage_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY)
  GROUP BY cur.usage_date, cur.project_id, cur.service, cur.net_cost, cur.gross_cost
),

mad AS (
  -- median absolute deviation around the 28d median
  SELECT
    b.usage_date,
    b.project_id,
    b.service,
    APPROX_QUANTILES(ABS(h.net_cost - b.median_28d), 2)[OFFSET(1)] AS mad_28d
  FROM baseline AS b
  JOIN dense AS h
    ON h.project_id = b.project_id
   AND h.service = b.service
   AND h.usage_date BETWEEN DATE_SUB(b.usage_date, INTERVAL 28 DAY) AND DATE_SUB(b.usage_date, INTERVAL 1 DAY)
  GROUP BY b.usage_date, b.project_id, b.service
),

new_skus AS (
  SELECT
    project_id,
    service,
    usage_date,
    ARRAY_AGG(DISTINCT sku ORDER BY sku LIMIT 10) AS new_sku_names,
    SUM(cost) AS new_sku_cost
  FROM (
    SELECT
      b.*,
      MIN(b.usage_date) OVER (PARTITION BY b.project_id, b.sku_id) AS first_seen
    FROM billing AS b
  )
  WHERE usage_date = first_seen
    AND first_seen > DATE_SUB(CURRENT_DATE(), INTERVAL 33 DAY)
  GROUP BY project_id, service, usage_date
),

flagged AS (
  SELECT
    b.*,
    m.mad_28d,
    SAFE_DIVIDE(b.net_cost - b.median_28d, 1.4826 * NULLIF(m.mad_28d, 0)) AS robust_z,
    SAFE_DIVIDE(b.net_cost - b.same_day_last_week, NULLIF(b.same_day_last_week, 0)) AS wow_growth,
    b.net_cost - b.median_28d AS excess_cost,
    ns.new_sku_names,
    ns.new_sku_cost
  FROM baseline AS b
  JOIN mad AS m USING (usage_date, project_id, service)
  LEFT JOIN new_skus AS ns USING (usage_date, project_id, service)
)

SELECT
  f.usage_date,
  f.project_id,
  d.project_name,
  d.cost_center,
  d.owner,
  f.service,
  ROUND(f.net_cost, 2) AS net_cost,
  ROUND(f.median_28d, 2) AS baseline_median,
  ROUND(f.max_28d, 2) AS baseline_max,
  ROUND(f.excess_cost, 2) AS excess_cost,
  ROUND(f.robust_z, 2) AS robust_z,
  ROUND(f.wow_growth * 100, 1) AS wow_growth_pct,
  f.new_sku_names,
  ROUND(f.new_sku_cost, 2) AS new_sku_cost,
  CASE
    WHEN f.median_28d = 0 AND f.net_cost > 50 THEN 'new_spend'
    WHEN f.robust_z > 6 AND f.excess_cost > 200 THEN 'critical'
    WHEN f.robust_z > 4 AND f.excess_cost > 50 THEN 'warning'
    WHEN f.wow_growth > 1.0 AND f.excess_cost > 100 THEN 'wow_spike'
    ELSE 'info'
  END AS severity,
  FORMAT(
    '%s / %s spent $%.2f on %t (baseline $%.2f, z=%.1f)',
    f.project_id, f.service, f.net_cost, f.usage_date, f.median_28d, IFNULL(f.robust_z, 0)
  ) AS alert_text
FROM flagged AS f
LEFT JOIN daily AS d USING (usage_date, project_id, service)
WHERE (f.median_28d = 0 AND f.net_cost > 50)
   OR (f.robust_z > 4 AND f.excess_cost > 50)
   OR (f.wow_growth > 1.0 AND f.excess_cost > 100)
ORDER BY f.usage_date DESC, f.excess_cost DESC
