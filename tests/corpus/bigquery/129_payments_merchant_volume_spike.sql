/* Merchant risk: hourly volume spikes vs. the merchant's own 30-day hourly profile. */
WITH hourly AS (
  SELECT
    merchant_id,
    TIMESTAMP_TRUNC(created_at, HOUR) AS hour_ts,
    EXTRACT(HOUR FROM created_at) AS hour_of_day,
    COUNT(*) AS txns,
    SUM(amount_minor) / 100 AS volume
  FROM core.payment_attempts
  WHERE created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 31 DAY)
    AND outcome = 'approved'
  GROUP BY 1, 2, 3
),
profile AS (
  SELECT
    merchant_id,
    hour_of_day,
    AVG(volume) AS mean_volume,
    STDDEV(volume) AS sd_volume
  FROM hourly
  WHERE hour_ts < TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR), INTERVAL 24 HOUR)
  GROUP BY 1, 2
)
SELECT
  h.merchant_id,
  h.hour_ts,
  h.txns,
  ROUND(h.volume, 2) AS volume,
  ROUND(p.mean_volume, 2) AS typical_volume,
  ROUND(SAFE_DIVIDE(h.volume - p.mean_volume, p.sd_volume), 2) AS z
FROM hourly AS h
JOIN profile AS p USING (merchant_id, hour_of_day)
WHERE h.hour_ts >= TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR), INTERVAL 24 HOUR)
  AND SAFE_DIVIDE(h.volume - p.mean_volume, p.sd_volume) > 5
  AND h.volume > 1000
ORDER BY z DESC
