-- Carrier invoice audit: billed weight vs measured weight, surcharges and duplicate charges.
SELECT
  i.carrier_code,
  i.invoice_number,
  i.tracking_number,
  i.billed_weight_kg,
  p.measured_weight_kg,
  GREATEST(p.measured_weight_kg, p.length_cm * p.width_cm * p.height_cm / 5000) AS expected_billable_kg,
  i.billed_weight_kg - GREATEST(p.measured_weight_kg, p.length_cm * p.width_cm * p.height_cm / 5000) AS weight_diff_kg,
  i.base_charge,
  i.fuel_surcharge,
  (SELECT SUM(s.amount) FROM UNNEST(i.accessorials) AS s) AS accessorial_total,
  ARRAY(SELECT s.code FROM UNNEST(i.accessorials) AS s WHERE s.code NOT IN ('RESI', 'FUEL')) AS unusual_accessorials,
  COUNT(*) OVER (PARTITION BY i.carrier_code, i.tracking_number) > 1 AS duplicate_tracking_charge,
  i.total_charge - r.contracted_rate AS over_contract
FROM `logi-analytics.finance.carrier_invoice_lines` AS i
LEFT JOIN `logi-analytics.ops.parcels` AS p
  ON p.tracking_number = i.tracking_number
LEFT JOIN `logi-analytics.finance.rate_cards` AS r
  ON r.carrier_code = i.carrier_code
 AND r.service_level = i.service_level
 AND r.zone = i.zone
 AND CEIL(i.billed_weight_kg) BETWEEN r.weight_from_kg AND r.weight_to_kg
WHERE i.invoice_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 60 DAY)
QUALIFY duplicate_tracking_charge
   OR weight_diff_kg > 0.5
   OR over_contract > 0.5
ORDER BY i.carrier_code, i.invoice_number
