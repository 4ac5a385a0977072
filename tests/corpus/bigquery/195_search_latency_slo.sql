-- Search backend SLO burn rate over 1h and 6h windows (99% of requests under 300 ms).
WITH minute_stats AS (
  SELECT
    TIMESTAMP_TRUNC(request_ts, MINUTE) AS minute_ts,
    COUNT(*) AS requests,
    COUNTIF(latency_ms > 300 OR status_code >= 500) AS bad_requests
  FROM `platform-obs.logs.request_log`
  WHERE service = 'search-api'
    AND request_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 HOUR)
  GROUP BY minute_ts
)
SELECT
  minute_ts,
  requests,
  bad_requests,
  SAFE_DIVIDE(SUM(bad_requests) OVER w1h, SUM(requests) OVER w1h) / 0.01 AS burn_rate_1h,
  SAFE_DIVIDE(SUM(bad_requests) OVER w6h, SUM(requests) OVER w6h) / 0.01 AS burn_rate_6h,
  SAFE_DIVIDE(SUM(bad_requests) OVER w1h, SUM(requests) OVER w1h) / 0.01 > 14.4
    AND SAFE_DIVIDE(SUM(bad_requests) OVER w6h, SUM(requests) OVER w6h) / 0.01 > 6 AS page_alert
FROM minute_stats
WINDOW
  w1h AS (ORDER BY UNIX_SECONDS(minute_ts) RANGE BETWEEN 3599 PRECEDING AND CURRENT ROW),
  w6h AS (ORDER BY UNIX_SECONDS(minute_ts) RANGE BETWEEN 21599 PRECEDING AND CURRENT ROW)
ORDER BY minute_ts DESC
LIMIT 60
