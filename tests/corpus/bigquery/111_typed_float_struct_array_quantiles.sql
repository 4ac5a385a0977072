-- Latency quantiles reported as a typed ARRAY<STRUCT<key STRING, value FLOAT64>> per service,
-- matching the schema the alerting service expects.
SELECT
  service,
  region,
  COUNT(*) AS requests,
  ARRAY<STRUCT<key STRING, value FLOAT64>>[
    ('0.1', APPROX_QUANTILES(latency_ms, 100)[OFFSET(10)]),
    ('0.5', APPROX_QUANTILES(latency_ms, 100)[OFFSET(50)]),
    ('0.9', APPROX_QUANTILES(latency_ms, 100)[OFFSET(90)]),
    ('0.99', APPROX_QUANTILES(latency_ms, 1000)[OFFSET(990)]),
    ('max', MAX(latency_ms))
  ] AS latency_quantiles,
  ARRAY<STRUCT<key STRING, value FLOAT64>>[
    ('error_rate', SAFE_DIVIDE(COUNTIF(status_code >= 500), COUNT(*))),
    ('throttle_rate', SAFE_DIVIDE(COUNTIF(status_code = 429), COUNT(*)))
  ] AS rates
FROM `platform-obs.logs.request_log`
WHERE request_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 15 MINUTE)
GROUP BY service, region
ORDER BY service, region
