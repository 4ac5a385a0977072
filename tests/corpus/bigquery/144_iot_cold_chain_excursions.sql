-- Cold-chain monitoring: temperature excursions for pharma shipments.
-- An excursion is a continuous period outside the product's allowed range.
-- Uses gaps-and-islands over 5-minute logger readings; cumulative excursion minutes are
-- compared against the product stability budget.

WITH readings AS (
  SELECT
    r.logger_id,
    r.reading_ts,
    r.temperature_c,
    r.battery_pct,
    r.light_lux,
    a.shipment_id
  FROM `coldchain-prod.loggers.readings` AS r
  JOIN `coldchain-prod.loggers.logger_assignments` AS a
    ON a.logger_id = r.logger_id
   AND r.reading_ts BETWEEN a.assigned_at AND IFNULL(a.unassigned_at, CURRENT_TIMESTAMP())
  WHERE r.reading_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
),

shipments AS (
  SELECT
    s.shipment_id,
    s.product_sku,
    s.origin_site,
    s.destination_site,
    s.departed_at,
    s.arrived_at,
    p.min_temp_c,
    p.max_temp_c,
    p.excursion_budget_minutes,
    p.max_single_excursion_minutes,
    p.product_name
  FROM `coldchain-prod.shipping.shipments` AS s
  JOIN `coldchain-prod.reference.product_stability` AS p
    ON p.product_sku = s.product_sku
  WHERE s.departed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
),

flagged AS (
  SELECT
    r.*,
    s.min_temp_c,
    s.max_temp_c,
    CASE
      WHEN r.temperature_c > s.max_temp_c THEN 'high'
      WHEN r.temperature_c < s.min_temp_c THEN 'low'
      ELSE 'ok'
    END AS band,
    TIMESTAMP_DIFF(
      LEAD(r.reading_ts) OVER (PARTITION BY r.shipment_id ORDER BY r.reading_ts),
      r.reading_ts,
      SECOND
    ) AS secs_to_next
  FROM readings AS r
  JOIN shipments AS s USING (shipment_id)
),

with_prev AS (
  SELECT
    *,
    LAG(band) OVER (PARTITION BY shipment_id ORDER BY reading_ts) AS prev_band,
    LAG(reading_ts) OVER (PARTITION BY shipment_id ORDER BY reading_ts) AS prev_reading_ts
  FROM flagged
),

islands AS (
  SELECT
    *,
    -- new island whenever the band changes or there is a logging gap > 15 minutes
    SUM(IF(
      band != IFNULL(prev_band, '')
      OR TIMESTAMP_DIFF(reading_ts, prev_reading_ts, MINUTE) > 15,
      1, 0
    )) OVER (PARTITION BY shipment_id ORDER BY reading_ts ROWS UNBOUNDED PRECEDING) AS island_id
  FROM with_prev
),

excursions AS (
  SELECT
    shipment_id,
    island_id,
    ANY_VALUE(band) AS band,
    MIN(reading_ts) AS started_at,
    MAX(reading_ts) AS last_reading_at,
    SUM(LEAST(IFNULL(secs_to_next, 300), 900)) / 60 AS duration_min,
    MAX(temperature_c) AS peak_temp_c,
    MIN(temperature_c) AS min_temp_c,
    AVG(temperature_c) AS avg_temp_c,
    -- mean kinetic temperature contribution (activation energy 83.144 kJ/mol)
    SUM(EXP(-10000 / (temperature_c + 273.15)) * LEAST(IFNULL(secs_to_next, 300), 900)) AS mkt_numerator,
    SUM(LEAST(IFNULL(secs_to_next, 300), 900)) AS mkt_denominator,
    COUNT(*) AS readings
  FROM islands
  WHERE band != 'ok'
  GROUP BY shipment_id, island_id
),

shipment_summary AS (
  SELECT
    s.shipment_id,
    s.product_sku,
    s.product_name,
    s.origin_site,
    s.destination_site,
    s.departed_at,
    s.arrived_at,
    s.min_temp_c AS allowed_min_c,
    s.max_temp_c AS allowed_max_c,
    s.excursion_budget_minutes,
    s.max_single_excursion_minutes,
    COUNT(e.island_id) AS excursion_count,
    IFNULL(SUM(e.duration_min), 0) AS total_excursion_min,
    IFNULL(MAX(e.duration_min), 0) AS longest_excursion_min,
    MAX(e.peak_temp_c) AS peak_temp_c,
    MIN(e.min_temp_c) AS lowest_temp_c,
    ARRAY_AGG(
      IF(e.island_id IS NULL, NULL, STRUCT(e.band, e.started_at, ROUND(e.duration_min, 1) AS minutes, e.peak_temp_c))
      IGNORE NULLS
      ORDER BY e.started_at
    ) AS excursion_list
  FROM shipments AS s
  LEFT JOIN excursions AS e USING (shipment_id)
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
),

overall_mkt AS (
  SELECT
    shipment_id,
    -10000 / LN(SUM(EXP(-10000 / (temperature_c + 273.15)) * LEAST(IFNULL(secs_to_next, 300), 900))
                / SUM(LEAST(IFNULL(secs_to_next, 300), 900))) - 273.15 AS mean_kinetic_temp_c,
    MIN(battery_pct) AS min_battery_pct,
    LOGICAL_OR(light_lux > 50) AS box_opened_in_transit,
    MAX(reading_ts) AS last_reading_at
  FROM flagged
  GROUP BY shipment_id
)

SELECT
  ss.*,
  ROUND(om.mean_kinetic_temp_c, 2) AS mean_kinetic_temp_c,
  om.min_battery_pct,
  om.box_opened_in_transit,
  TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), om.last_reading_at, MINUTE) AS minutes_since_last_reading,
  ROUND(SAFE_DIVIDE(ss.total_excursion_min, ss.excursion_budget_minutes), 3) AS budget_used_ratio,
  CASE
    WHEN ss.total_excursion_min > ss.excursion_budget_minutes
      OR ss.longest_excursion_min > ss.max_single_excursion_minutes THEN 'quarantine'
    WHEN ss.total_excursion_min > 0.5 * ss.excursion_budget_minutes THEN 'review'
    WHEN ss.arrived_at IS NULL AND TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), om.last_reading_at, MINUTE) > 60 THEN 'logger_silent'
    ELSE 'release'
  END AS disposition
FROM shipment_summary AS ss
LEFT JOIN overall_mkt AS om USING (shipment_id)
ORDER BY disposition = 'release', ss.departed_at DESC
