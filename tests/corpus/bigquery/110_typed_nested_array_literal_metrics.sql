-- Metric catalogue with nested typed literals: each metric has a list of breakdown buckets.
-- Used by the dashboard service to render histogram bucket labels.
WITH catalogue AS (
  SELECT *
  FROM UNNEST(
    ARRAY<STRUCT<metric STRING, value ARRAY<STRUCT<key STRING, value INT64>>>>[
      ('session_length_bucket', [('0-10s', 10), ('10-60s', 60), ('1-5m', 300), ('5-30m', 1800), ('30m+', 86400)]),
      ('basket_size_bucket', [('1', 1), ('2-3', 3), ('4-10', 10), ('11+', 1000000)]),
      ('days_since_signup_bucket', [('0-1d', 1), ('2-7d', 7), ('8-30d', 30), ('31-365d', 365), ('1y+', 100000)])
    ]
  )
),
observations AS (
  SELECT 'session_length_bucket' AS metric, session_seconds AS v
  FROM `acme-web-prod.marts.ga4_sessions`
  WHERE session_date = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  UNION ALL
  SELECT 'basket_size_bucket', units
  FROM `mkt-data-prod.marts.fct_marketplace_orders`
  WHERE order_date = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
)
SELECT
  c.metric,
  (
    SELECT b.key
    FROM UNNEST(c.value) AS b WITH OFFSET AS i
    WHERE o.v <= b.value
    ORDER BY i
    LIMIT 1
  ) AS bucket_label,
  COUNT(*) AS n
FROM observations AS o
JOIN catalogue AS c USING (metric)
GROUP BY c.metric, bucket_label
ORDER BY c.metric, bucket_label
