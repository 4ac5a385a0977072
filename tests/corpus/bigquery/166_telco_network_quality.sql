-- Mobile network quality per cell site and hour: drop rate, throughput and congestion,
-- joined to customer complaints and outage tickets. Feeds the NOC capacity planning view.

WITH kpi AS (
  SELECT
    cell_id,
    TIMESTAMP_TRUNC(period_start, HOUR) AS hour_ts,
    SUM(call_attempts) AS call_attempts,
    SUM(call_drops) AS call_drops,
    SUM(rrc_setup_attempts) AS rrc_attempts,
    SUM(rrc_setup_success) AS rrc_success,
    SUM(dl_volume_mb) AS dl_volume_mb,
    SUM(ul_volume_mb) AS ul_volume_mb,
    AVG(dl_throughput_mbps) AS avg_dl_mbps,
    MIN(dl_throughput_mbps) AS min_dl_mbps,
    AVG(prb_utilisation_pct) AS avg_prb_util,
    MAX(prb_utilisation_pct) AS max_prb_util,
    MAX(connected_users) AS peak_connected_users,
    AVG(cqi_avg) AS avg_cqi
  FROM `telco-noc.oss.cell_kpi_15min`
  WHERE period_start >= TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR), INTERVAL 7 DAY)
  GROUP BY cell_id, hour_ts
),

cells AS (
  SELECT
    c.cell_id,
    c.site_id,
    c.technology,                  -- '4G' | '5G_NSA' | '5G_SA'
    c.band_mhz,
    c.sector_azimuth,
    s.region,
    s.city,
    ST_GEOGPOINT(s.lng, s.lat) AS site_point,
    s.site_type                    -- 'macro' | 'small_cell' | 'indoor'
  FROM `telco-noc.inventory.cells` AS c
  JOIN `telco-noc.inventory.sites` AS s USING (site_id)
  WHERE c.status = 'on_air'
),

complaints AS (
  SELECT
    nearest_cell_id AS cell_id,
    TIMESTAMP_TRUNC(created_at, HOUR) AS hour_ts,
    COUNT(*) AS complaints,
    APPROX_TOP_COUNT(category, 2) AS complaint_categories
  FROM `telco-noc.care.network_complaints`
  WHERE created_at >= TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR), INTERVAL 7 DAY)
  GROUP BY 1, 2
),

outages AS (
  SELECT
    site_id,
    started_at,
    IFNULL(resolved_at, CURRENT_TIMESTAMP()) AS resolved_at,
    severity,
    root_cause
  FROM `telco-noc.incidents.site_outages`
  WHERE IFNULL(resolved_at, CURRENT_TIMESTAMP()) >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
),

joined AS (
  SELECT
    k.*,
    c.site_id,
    c.technology,
    c.band_mhz,
    c.region,
    c.city,
    c.site_type,
    IFNULL(cp.complaints, 0) AS complaints,
    cp.complaint_categories,
    EXISTS (
      SELECT 1 FROM outages AS o
      WHERE o.site_id = c.site_id
        AND k.hour_ts < o.resolved_at
        AND TIMESTAMP_ADD(k.hour_ts, INTERVAL 1 HOUR) > o.started_at
    ) AS during_outage,
    SAFE_DIVIDE(k.call_drops, k.call_attempts) AS drop_rate,
    SAFE_DIVIDE(k.rrc_success, k.rrc_attempts) AS rrc_success_rate,
    EXTRACT(HOUR FROM k.hour_ts AT TIME ZONE 'Europe/Madrid') AS local_hour
  FROM kpi AS k
  JOIN cells AS c USING (cell_id)
  LEFT JOIN complaints AS cp USING (cell_id, hour_ts)
),

busy_hour AS (
  -- busy hour per cell = hour with the highest DL volume each day
  SELECT
    cell_id,
    DATE(hour_ts, 'Europe/Madrid') AS local_date,
    ARRAY_AGG(STRUCT(hour_ts, dl_volume_mb, avg_prb_util, avg_dl_mbps) ORDER BY dl_volume_mb DESC LIMIT 1)[OFFSET(0)] AS bh
  FROM joined
  GROUP BY cell_id, local_date
)

SELECT
  j.cell_id,
  ANY_VALUE(j.site_id) AS site_id,
  ANY_VALUE(j.technology) AS technology,
  ANY_VALUE(j.band_mhz) AS band_mhz,
  ANY_VALUE(j.region) AS region,
  ANY_VALUE(j.city) AS city,
  ANY_VALUE(j.site_type) AS site_type,
  SUM(j.call_attempts) AS call_attempts_7d,
  ROUND(SAFE_DIVIDE(SUM(j.call_drops), SUM(j.call_attempts)) * 100, 3) AS drop_rate_pct_7d,
  ROUND(SAFE_DIVIDE(SUM(j.rrc_success), SUM(j.rrc_attempts)) * 100, 3) AS rrc_success_pct_7d,
  ROUND(SUM(j.dl_volume_mb) / 1024, 1) AS dl_volume_gb_7d,
  ROUND(AVG(j.avg_dl_mbps), 2) AS avg_dl_mbps_7d,
  ROUND(APPROX_QUANTILES(j.avg_dl_mbps, 100)[OFFSET(10)], 2) AS p10_dl_mbps_7d,
  ROUND(AVG(j.avg_prb_util), 1) AS avg_prb_util_7d,
  COUNTIF(j.max_prb_util >= 85) AS congested_hours_7d,
  ROUND((SELECT AVG(b.bh.avg_prb_util) FROM busy_hour AS b WHERE b.cell_id = j.cell_id), 1) AS avg_busy_hour_prb_util,
  ROUND((SELECT AVG(b.bh.avg_dl_mbps) FROM busy_hour AS b WHERE b.cell_id = j.cell_id), 2) AS avg_busy_hour_dl_mbps,
  MAX(j.peak_connected_users) AS peak_connected_users_7d,
  SUM(j.complaints) AS complaints_7d,
  COUNTIF(j.during_outage) AS outage_hours_7d,
  ROUND(AVG(j.avg_cqi), 2) AS avg_cqi_7d,
  CASE
    WHEN COUNTIF(j.max_prb_util >= 85) >= 20 THEN 'capacity_upgrade'
    WHEN SAFE_DIVIDE(SUM(j.call_drops), SUM(j.call_attempts)) > 0.015 THEN 'rf_optimisation'
    WHEN SUM(j.complaints) >= 10 THEN 'investigate_complaints'
    ELSE 'ok'
  END AS recommended_action
FROM joined AS j
GROUP BY j.cell_id
ORDER BY congested_hours_7d DESC, drop_rate_pct_7d DESC
