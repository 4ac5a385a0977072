-- Shipment CO2e estimate (GLEC-style): distance x weight x mode emission factor.
WITH factors AS (
  SELECT *
  FROM UNNEST(ARRAY<STRUCT<mode STRING, g_co2e_per_tkm NUMERIC>>[
    ('road_van', NUMERIC '190.0'),
    ('road_truck', NUMERIC '75.0'),
    ('rail', NUMERIC '22.0'),
    ('sea', NUMERIC '8.0'),
    ('air', NUMERIC '602.0')
  ])
)
SELECT
  DATE_TRUNC(DATE(l.departed_at), MONTH) AS month,
  l.mode,
  COUNT(DISTINCT l.shipment_id) AS shipments,
  ROUND(SUM(l.distance_km), 0) AS km,
  ROUND(SUM(l.weight_kg / 1000 * l.distance_km), 1) AS tonne_km,
  ROUND(SUM(CAST(l.weight_kg / 1000 * l.distance_km AS NUMERIC) * f.g_co2e_per_tkm) / 1000000, 3) AS tonnes_co2e,
  ROUND(SAFE_DIVIDE(
    SUM(CAST(l.weight_kg / 1000 * l.distance_km AS NUMERIC) * f.g_co2e_per_tkm),
    COUNT(DISTINCT l.shipment_id)
  ) / 1000, 3) AS kg_co2e_per_shipment
FROM `logi-analytics.ops.shipment_legs` AS l
JOIN factors AS f USING (mode)
WHERE l.departed_at >= TIMESTAMP(DATE_TRUNC(DATE_SUB(CURRENT_DATE(), INTERVAL 12 MONTH), MONTH))
GROUP BY month, l.mode
ORDER BY month, l.mode
