-- API endpoints grouped by route template; templates are assembled with adjacent literals
-- (BigQuery concatenates adjacent string literals at parse time).
WITH routes AS (
  SELECT * FROM UNNEST([
    STRUCT('orders_detail' AS route_name, r'^/api/v2' r'/orders/[0-9a-f-]{36}$' AS pattern),
    STRUCT('orders_list', r'^/api/v2' '/orders/?$'),
    STRUCT('cart_items', '^/api/v2' "/carts/[^/]+" '/items(/[^/]+)?$'),
    STRUCT('search', "^/api/v2" "/search"),
    STRUCT('health', '^/healthz$')
  ])
),
requests AS (
  SELECT
    request_path,
    http_method,
    status_code,
    latency_ms,
    request_ts
  FROM logs.request_log
  WHERE request_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 6 HOUR)
)
SELECT
  IFNULL(r.route_name, 'unmatched') AS route_name,
  q.http_method,
  COUNT(*) AS requests,
  COUNTIF(q.status_code >= 500) AS errors_5xx,
  COUNTIF(q.status_code BETWEEN 400 AND 499) AS errors_4xx,
  APPROX_QUANTILES(q.latency_ms, 100)[OFFSET(95)] AS p95_latency_ms
FROM requests AS q
LEFT JOIN routes AS r
  ON REGEXP_CONTAINS(q.request_path, r.pattern)
GROUP BY route_name, q.http_method
ORDER BY requests DESC
