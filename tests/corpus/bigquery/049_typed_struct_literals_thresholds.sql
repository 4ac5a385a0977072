-- SLO thresholds as typed literals, joined against service latency percentiles.
WITH slo AS (
  SELECT *
  FROM UNNEST(
    ARRAY<STRUCT<service STRING, p99_ms_limit INT64, error_rate_limit FLOAT64, tier STRING>>[
      ('checkout-api', 800, 0.001, 'critical'),
      ('search-api', 400, 0.005, 'critical'),
      ('catalog-api', 600, 0.01, 'standard'),
      ('recommendations', 1200, 0.02, 'best_effort'),
      ('notifications', 5000, 0.05, 'best_effort')
    ]
  )
),
observed AS (
  SELECT
    service,
    APPROX_QUANTILES(latency_ms, 1000)[OFFSET(990)] AS p99_ms,
    APPROX_QUANTILES(latency_ms, 1000)[OFFSET(500)] AS p50_ms,
    SAFE_DIVIDE(COUNTIF(status_code >= 500), COUNT(*)) AS error_rate,
    COUNT(*) AS requests
  FROM `platform-obs.logs.request_log`
  WHERE request_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
  GROUP BY service
)
SELECT
  slo.service,
  slo.tier,
  o.requests,
  o.p50_ms,
  o.p99_ms,
  slo.p99_ms_limit,
  ROUND(o.error_rate, 5) AS error_rate,
  slo.error_rate_limit,
  STRUCT<latency_ok BOOL, errors_ok BOOL>(o.p99_ms <= slo.p99_ms_limit, o.error_rate <= slo.error_rate_limit) AS slo_status
FROM slo
LEFT JOIN observed AS o USING (service)
ORDER BY slo.tier, slo.service
