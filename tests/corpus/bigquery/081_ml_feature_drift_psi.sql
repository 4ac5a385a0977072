-- Feature drift monitoring: Population Stability Index (PSI) and null-rate change per feature,
-- comparing the last 7 days of online scoring requests against the training snapshot.
-- Numeric features are bucketed by training deciles; categoricals by top-20 categories + 'other'.

WITH training AS (
  SELECT *
  FROM `ml-platform.features.churn_features_v3`
  WHERE snapshot_date BETWEEN DATE '2024-01-01' AND DATE '2024-03-31'
),

serving AS (
  SELECT
    JSON_VALUE(request_payload, '$.customer_id') AS customer_id,
    SAFE_CAST(JSON_VALUE(request_payload, '$.features.days_since_last_order') AS FLOAT64) AS days_since_last_order,
    SAFE_CAST(JSON_VALUE(request_payload, '$.features.orders_90d') AS FLOAT64) AS orders_90d,
    SAFE_CAST(JSON_VALUE(request_payload, '$.features.revenue_365d') AS FLOAT64) AS revenue_365d,
    SAFE_CAST(JSON_VALUE(request_payload, '$.features.tickets_30d') AS FLOAT64) AS tickets_30d,
    SAFE_CAST(JSON_VALUE(request_payload, '$.features.web_sessions_30d') AS FLOAT64) AS web_sessions_30d,
    JSON_VALUE(request_payload, '$.features.country_code') AS country_code,
    JSON_VALUE(request_payload, '$.features.favourite_category') AS favourite_category,
    JSON_VALUE(request_payload, '$.features.active_plan') AS active_plan,
    request_ts
  FROM `ml-platform.serving_logs.churn_model_requests`
  WHERE request_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
    AND JSON_VALUE(request_payload, '$.model_version') = 'churn-v3.4'
),

-- numeric features in long format
train_num AS (
  -- UNPIVOT needs a common type, so cast the integer columns first
  SELECT feature, value
  FROM (
    SELECT
      CAST(days_since_last_order AS FLOAT64) AS days_since_last_order,
      CAST(orders_90d AS FLOAT64) AS orders_90d,
      CAST(revenue_365d AS FLOAT64) AS revenue_365d,
      CAST(tickets_30d AS FLOAT64) AS tickets_30d,
      CAST(web_sessions_30d AS FLOAT64) AS web_sessions_30d
    FROM training
  )
  UNPIVOT INCLUDE NULLS (value FOR feature IN (
    days_since_last_order, orders_90d, revenue_365d, tickets_30d, web_sessions_30d
  ))
),

serve_num AS (
  SELECT feature, value
  FROM serving
  UNPIVOT INCLUDE NULLS (value FOR feature IN (
    days_since_last_order, orders_90d, revenue_365d, tickets_30d, web_sessions_30d
  ))
),

edges AS (
  SELECT
    feature,
    APPROX_QUANTILES(value, 10) AS qs
  FROM train_num
  WHERE value IS NOT NULL
  GROUP BY feature
),

bucketed_train AS (
  SELECT
    t.feature,
    IF(t.value IS NULL, -1, RANGE_BUCKET(t.value, ARRAY(SELECT q FROM UNNEST(e.qs) AS q WITH OFFSET o WHERE o BETWEEN 1 AND 9 ORDER BY o))) AS bucket
  FROM train_num AS t
  JOIN edges AS e USING (feature)
),

bucketed_serve AS (
  SELECT
    s.feature,
    IF(s.value IS NULL, -1, RANGE_BUCKET(s.value, ARRAY(SELECT q FROM UNNEST(e.qs) AS q WITH OFFSET o WHERE o BETWEEN 1 AND 9 ORDER BY o))) AS bucket
  FROM serve_num AS s
  JOIN edges AS e USING (feature)
),

num_dist AS (
  SELECT
    COALESCE(t.feature, s.feature) AS feature,
    COALESCE(t.bucket, s.bucket) AS bucket,
    IFNULL(t.n, 0) AS n_train,
    IFNULL(s.n, 0) AS n_serve
  FROM (SELECT feature, bucket, COUNT(*) AS n FROM bucketed_train GROUP BY 1, 2) AS t
  FULL OUTER JOIN (SELECT feature, bucket, COUNT(*) AS n FROM bucketed_serve GROUP BY 1, 2) AS s
    ON t.feature = s.feature AND t.bucket = s.bucket
),

-- categorical features
train_cat AS (
  SELECT feature, value
  FROM training
  UNPIVOT INCLUDE NULLS (value FOR feature IN (country_code, favourite_category, active_plan))
),

serve_cat AS (
  SELECT feature, value
  FROM serving
  UNPIVOT INCLUDE NULLS (value FOR feature IN (country_code, favourite_category, active_plan))
),

top_categories AS (
  SELECT feature, value
  FROM (
    SELECT feature, value, ROW_NUMBER() OVER (PARTITION BY feature ORDER BY COUNT(*) DESC) AS rn
    FROM train_cat
    WHERE value IS NOT NULL
    GROUP BY feature, value
  )
  WHERE rn <= 20
),

cat_dist AS (
  SELECT
    feature,
    bucket,
    COUNTIF(src = 'train') AS n_train,
    COUNTIF(src = 'serve') AS n_serve
  FROM (
    SELECT 'train' AS src, c.feature,
      CASE WHEN c.value IS NULL THEN '__null__' WHEN tc.value IS NULL THEN '__other__' ELSE c.value END AS bucket
    FROM train_cat AS c
    LEFT JOIN top_categories AS tc USING (feature, value)
    UNION ALL
    SELECT 'serve', c.feature,
      CASE WHEN c.value IS NULL THEN '__null__' WHEN tc.value IS NULL THEN '__other__' ELSE c.value END
    FROM serve_cat AS c
    LEFT JOIN top_categories AS tc USING (feature, value)
  )
  GROUP BY feature, bucket
),

all_dist AS (
  SELECT 'numeric' AS feature_type, feature, CAST(bucket AS STRING) AS bucket, n_train, n_serve FROM num_dist
  UNION ALL
  SELECT 'categorical', feature, bucket, n_train, n_serve FROM cat_dist
),

shares AS (
  SELECT
    feature_type,
    feature,
    bucket,
    n_train,
    n_serve,
    -- epsilon smoothing so empty buckets don't blow up the log
    (n_train + 0.5) / (SUM(n_train) OVER (PARTITION BY feature) + 0.5 * COUNT(*) OVER (PARTITION BY feature)) AS p_train,
    (n_serve + 0.5) / (SUM(n_serve) OVER (PARTITION BY feature) + 0.5 * COUNT(*) OVER (PARTITION BY feature)) AS p_serve
  FROM all_dist
)

SELECT
  feature_type,
  feature,
  ROUND(SUM((p_serve - p_train) * LN(p_serve / p_train)), 4) AS psi,
  CASE
    WHEN SUM((p_serve - p_train) * LN(p_serve / p_train)) >= 0.25 THEN 'major_shift'
    WHEN SUM((p_serve - p_train) * LN(p_serve / p_train)) >= 0.10 THEN 'moderate_shift'
    ELSE 'stable'
  END AS drift_status,
  ROUND(SAFE_DIVIDE(SUM(IF(bucket IN ('-1', '__null__'), n_train, 0)), SUM(n_train)), 4) AS null_rate_train,
  ROUND(SAFE_DIVIDE(SUM(IF(bucket IN ('-1', '__null__'), n_serve, 0)), SUM(n_serve)), 4) AS null_rate_serve,
  SUM(n_train) AS rows_train,
  SUM(n_serve) AS rows_serve,
  ARRAY_AGG(
    STRUCT(bucket, ROUND(p_train, 4) AS p_train, ROUND(p_serve, 4) AS p_serve)
    ORDER BY ABS(p_serve - p_train) DESC
    LIMIT 3
  ) AS most_shifted_buckets
FROM shares
GROUP BY feature_type, feature
ORDER BY psi DESC
