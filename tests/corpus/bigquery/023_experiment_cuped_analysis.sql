-- A/B test readout with CUPED variance reduction.
-- Experiment: checkout_redesign_2024q3. Metrics: conversion, revenue per user, orders per user.
-- Pre-period covariate: same metric over the 28 days before a user's first exposure.

WITH exposures AS (
  SELECT
    user_id,
    variant,
    MIN(exposed_at) AS first_exposed_at
  FROM `growth-exp.experimentation.exposures`
  WHERE experiment_key = 'checkout_redesign_2024q3'
    AND exposed_at BETWEEN TIMESTAMP '2024-07-08 00:00:00' AND TIMESTAMP '2024-08-05 00:00:00'
  GROUP BY user_id, variant
),

-- users exposed to more than one variant are excluded (sample ratio safety)
clean_exposures AS (
  SELECT e.*
  FROM exposures AS e
  WHERE e.user_id NOT IN (
    SELECT user_id FROM exposures GROUP BY user_id HAVING COUNT(DISTINCT variant) > 1
  )
),

orders AS (
  SELECT
    customer_id AS user_id,
    order_id,
    created_at,
    net_amount_usd
  FROM `growth-exp.commerce.orders`
  WHERE created_at BETWEEN TIMESTAMP '2024-06-10 00:00:00' AND TIMESTAMP '2024-08-19 00:00:00'
    AND status NOT IN ('cancelled', 'fraud')
),

user_metrics AS (
  SELECT
    e.user_id,
    e.variant,
    -- post period: 14 days after first exposure
    COUNT(DISTINCT IF(o.created_at BETWEEN e.first_exposed_at AND TIMESTAMP_ADD(e.first_exposed_at, INTERVAL 14 DAY), o.order_id, NULL)) AS orders_post,
    SUM(IF(o.created_at BETWEEN e.first_exposed_at AND TIMESTAMP_ADD(e.first_exposed_at, INTERVAL 14 DAY), o.net_amount_usd, 0)) AS revenue_post,
    -- pre period: 28 days before first exposure
    COUNT(DISTINCT IF(o.created_at BETWEEN TIMESTAMP_SUB(e.first_exposed_at, INTERVAL 28 DAY) AND e.first_exposed_at, o.order_id, NULL)) AS orders_pre,
    SUM(IF(o.created_at BETWEEN TIMESTAMP_SUB(e.first_exposed_at, INTERVAL 28 DAY) AND e.first_exposed_at, o.net_amount_usd, 0)) AS revenue_pre
  FROM clean_exposures AS e
  LEFT JOIN orders AS o
    ON o.user_id = e.user_id
  GROUP BY e.user_id, e.variant
),

-- winsorise revenue at the pooled 99.5th percentile to tame outliers
caps AS (
  SELECT
    APPROX_QUANTILES(revenue_post, 1000)[OFFSET(995)] AS revenue_post_cap,
    APPROX_QUANTILES(revenue_pre, 1000)[OFFSET(995)] AS revenue_pre_cap
  FROM user_metrics
),

capped AS (
  SELECT
    um.user_id,
    um.variant,
    IF(um.orders_post > 0, 1, 0) AS converted_post,
    IF(um.orders_pre > 0, 1, 0) AS converted_pre,
    um.orders_post,
    um.orders_pre,
    LEAST(um.revenue_post, c.revenue_post_cap) AS revenue_post,
    LEAST(um.revenue_pre, c.revenue_pre_cap) AS revenue_pre
  FROM user_metrics AS um
  CROSS JOIN caps AS c
),

-- long format so every metric goes through the same CUPED math
long_metrics AS (
  SELECT user_id, variant, 'conversion' AS metric, CAST(converted_post AS FLOAT64) AS y, CAST(converted_pre AS FLOAT64) AS x FROM capped
  UNION ALL
  SELECT user_id, variant, 'orders_per_user', CAST(orders_post AS FLOAT64), CAST(orders_pre AS FLOAT64) FROM capped
  UNION ALL
  SELECT user_id, variant, 'revenue_per_user', revenue_post, revenue_pre FROM capped
),

theta AS (
  -- pooled theta = cov(x, y) / var(x)
  SELECT
    metric,
    SAFE_DIVIDE(COVAR_SAMP(x, y), VAR_SAMP(x)) AS theta,
    AVG(x) AS mean_x_pooled
  FROM long_metrics
  GROUP BY metric
),

adjusted AS (
  SELECT
    l.metric,
    l.variant,
    l.y,
    l.y - IFNULL(t.theta, 0) * (l.x - t.mean_x_pooled) AS y_cuped
  FROM long_metrics AS l
  JOIN theta AS t USING (metric)
),

per_variant AS (
  SELECT
    metric,
    variant,
    COUNT(*) AS n,
    AVG(y) AS mean_raw,
    VAR_SAMP(y) AS var_raw,
    AVG(y_cuped) AS mean_cuped,
    VAR_SAMP(y_cuped) AS var_cuped
  FROM adjusted
  GROUP BY metric, variant
),

control AS (
  SELECT * FROM per_variant WHERE variant = 'control'
),

comparison AS (
  SELECT
    t.metric,
    t.variant,
    t.n AS n_treatment,
    c.n AS n_control,
    c.mean_raw AS control_mean,
    t.mean_raw AS treatment_mean,
    t.mean_cuped - c.mean_cuped AS abs_lift_cuped,
    SAFE_DIVIDE(t.mean_cuped - c.mean_cuped, c.mean_cuped) AS rel_lift_cuped,
    SQRT(t.var_cuped / t.n + c.var_cuped / c.n) AS se_cuped,
    t.mean_raw - c.mean_raw AS abs_lift_raw,
    SQRT(t.var_raw / t.n + c.var_raw / c.n) AS se_raw
  FROM per_variant AS t
  JOIN control AS c USING (metric)
  WHERE t.variant != 'control'
),

srm AS (
  -- sample ratio mismatch chi-square against the configured 50/50 split
  SELECT
    SUM(POW(n - expected, 2) / expected) AS chi_sq
  FROM (
    SELECT
      variant,
      COUNT(*) AS n,
      SUM(COUNT(*)) OVER () / COUNT(*) OVER () AS expected
    FROM clean_exposures
    GROUP BY variant
  )
)

SELECT
  c.metric,
  c.variant,
  c.n_control,
  c.n_treatment,
  ROUND(c.control_mean, 5) AS control_mean,
  ROUND(c.treatment_mean, 5) AS treatment_mean,
  ROUND(c.abs_lift_raw, 5) AS abs_lift_raw,
  ROUND(c.abs_lift_cuped, 5) AS abs_lift_cuped,
  ROUND(c.rel_lift_cuped * 100, 2) AS rel_lift_cuped_pct,
  ROUND(c.abs_lift_cuped - 1.96 * c.se_cuped, 5) AS ci95_low,
  ROUND(c.abs_lift_cuped + 1.96 * c.se_cuped, 5) AS ci95_high,
  ROUND(SAFE_DIVIDE(c.abs_lift_cuped, c.se_cuped), 3) AS z_cuped,
  ROUND(1 - SAFE_DIVIDE(POW(c.se_cuped, 2), POW(c.se_raw, 2)), 3) AS variance_reduction,
  ABS(SAFE_DIVIDE(c.abs_lift_cuped, c.se_cuped)) > 1.96 AS is_significant_95,
  ROUND(s.chi_sq, 3) AS srm_chi_sq,
  s.chi_sq > 10.83 AS srm_alert -- p < 0.001 with 1 dof
FROM comparison AS c
CROSS JOIN srm AS s
ORDER BY c.metric, c.variant
