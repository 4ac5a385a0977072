-- Decode the 16-bit status word reported by PLC controllers.
-- bits 0-3: mode, bit 4: fault, bit 5: e-stop, bit 6: door open, bits 8-15: error code
SELECT
  controller_id,
  reported_at,
  status_word,
  status_word & 0x000F AS mode,
  (status_word >> 4) & 1 = 1 AS fault,
  (status_word >> 5) & 1 = 1 AS emergency_stop,
  (status_word & (1 << 6)) != 0 AS door_open,
  (status_word >> 8) & 0xFF AS error_code,
  FORMAT('%04X', status_word) AS status_hex,
  status_word ^ LAG(status_word) OVER (PARTITION BY controller_id ORDER BY reported_at) AS changed_bits,
  CASE status_word & 0x000F
    WHEN 0 THEN 'idle'
    WHEN 1 THEN 'running'
    WHEN 2 THEN 'maintenance'
    WHEN 3 THEN 'calibration'
    ELSE 'unknown'
  END AS mode_name
FROM `iot-platform-prod.factory.plc_status`
WHERE reported_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
QUALIFY changed_bits IS NULL OR changed_bits != 0
ORDER BY controller_id, reported_at
