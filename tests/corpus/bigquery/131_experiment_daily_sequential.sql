-- Experiment monitoring: cumulative daily metrics per variant with guardrails.
-- Runs every morning for all running experiments; feeds the experimentation dashboard.
-- Uses a simple always-valid confidence sequence (mSPRT-style normal mixture) so peeking is safe.

WITH running AS (
  SELECT
    experiment_key,
    start_date,
    IFNULL(end_date, CURRENT_DATE()) AS end_date,
    primary_metric,
    guardrail_metrics,
    mixture_tau       -- prior scale for the mixture; configured per experiment
  FROM `growth-exp.experimentation.experiments`
  WHERE status = 'running'
),

exposures AS (
  SELECT
    e.experiment_key,
    e.user_id,
    e.variant,
    MIN(DATE(e.exposed_at)) AS first_exposure_date
  FROM `growth-exp.experimentation.exposures` AS e
  JOIN running AS r USING (experiment_key)
  WHERE DATE(e.exposed_at) BETWEEN r.start_date AND r.end_date
  GROUP BY 1, 2, 3
),

user_days AS (
  SELECT
    x.experiment_key,
    x.variant,
    x.user_id,
    x.first_exposure_date,
    d AS as_of_date
  FROM exposures AS x
  JOIN running AS r USING (experiment_key)
  CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(x.first_exposure_date, LEAST(r.end_date, DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)))) AS d
),

daily_metrics AS (
  SELECT
    m.user_id,
    m.metric_date,
    m.metric_name,
    m.value
  FROM `growth-exp.metrics.user_daily_metrics` AS m
  WHERE m.metric_date >= (SELECT MIN(start_date) FROM running)
),

cumulative AS (
  -- cumulative value per user up to each as_of_date, for the primary metric and guardrails
  SELECT
    ud.experiment_key,
    ud.variant,
    ud.as_of_date,
    r.primary_metric AS metric_name,
    'primary' AS metric_role,
    ud.user_id,
    SUM(IFNULL(dm.value, 0)) AS user_value
  FROM user_days AS ud
  JOIN running AS r USING (experiment_key)
  LEFT JOIN daily_metrics AS dm
    ON dm.user_id = ud.user_id
   AND dm.metric_name = r.primary_metric
   AND dm.metric_date BETWEEN ud.first_exposure_date AND ud.as_of_date
  GROUP BY 1, 2, 3, 4, 5, 6

  UNION ALL

  SELECT
    ud.experiment_key,
    ud.variant,
    ud.as_of_date,
    g AS metric_name,
    'guardrail' AS metric_role,
    ud.user_id,
    SUM(IFNULL(dm.value, 0)) AS user_value
  FROM user_days AS ud
  JOIN running AS r USING (experiment_key)
  CROSS JOIN UNNEST(r.guardrail_metrics) AS g
  LEFT JOIN daily_metrics AS dm
    ON dm.user_id = ud.user_id
   AND dm.metric_name = g
   AND dm.metric_date BETWEEN ud.first_exposure_date AND ud.as_of_date
  GROUP BY 1, 2, 3, 4, 5, 6
),

variant_stats AS (
  SELECT
    experiment_key,
    as_of_date,
    metric_name,
    metric_role,
    variant,
    COUNT(*) AS n,
    AVG(user_value) AS mean,
    VAR_SAMP(user_value) AS variance
  FROM cumulative
  GROUP BY 1, 2, 3, 4, 5
),

paired AS (
  SELECT
    t.experiment_key,
    t.as_of_date,
    t.metric_name,
    t.metric_role,
    t.variant,
    t.n AS n_t,
    c.n AS n_c,
    t.mean AS mean_t,
    c.mean AS mean_c,
    t.mean - c.mean AS diff,
    t.variance / t.n + c.variance / c.n AS var_diff,
    r.mixture_tau
  FROM variant_stats AS t
  JOIN variant_stats AS c
    ON c.experiment_key = t.experiment_key
   AND c.as_of_date = t.as_of_date
   AND c.metric_name = t.metric_name
   AND c.variant = 'control'
  JOIN running AS r
    ON r.experiment_key = t.experiment_key
  WHERE t.variant != 'control'
),

sequential AS (
  SELECT
    *,
    -- half-width of the always-valid 95% confidence sequence
    SQRT(
      (var_diff + POW(mixture_tau, 2)) / POW(mixture_tau, 2)
      * var_diff
      * (2 * LN(1 / 0.05) + LN((var_diff + POW(mixture_tau, 2)) / var_diff))
    ) AS cs_half_width,
    diff / SQRT(var_diff) AS naive_z
  FROM paired
  WHERE var_diff > 0
)

SELECT
  s.experiment_key,
  s.as_of_date,
  DATE_DIFF(s.as_of_date, r.start_date, DAY) + 1 AS day_of_experiment,
  s.metric_name,
  s.metric_role,
  s.variant,
  s.n_c,
  s.n_t,
  ROUND(s.mean_c, 6) AS mean_control,
  ROUND(s.mean_t, 6) AS mean_treatment,
  ROUND(s.diff, 6) AS abs_diff,
  ROUND(SAFE_DIVIDE(s.diff, s.mean_c) * 100, 3) AS rel_diff_pct,
  ROUND(s.diff - s.cs_half_width, 6) AS cs_lower,
  ROUND(s.diff + s.cs_half_width, 6) AS cs_upper,
  ROUND(s.naive_z, 3) AS naive_z,
  STRUCT<lower FLOAT64, upper FLOAT64, half_width FLOAT64>(
    s.diff - s.cs_half_width, s.diff + s.cs_half_width, s.cs_half_width
  ) AS confidence_sequence,
  s.diff - s.cs_half_width > 0 OR s.diff + s.cs_half_width < 0 AS is_conclusive,
  CASE
    WHEN s.metric_role = 'guardrail' AND s.diff + s.cs_half_width < 0 THEN 'guardrail_breach'
    WHEN s.metric_role = 'primary' AND s.diff - s.cs_half_width > 0 THEN 'winning'
    WHEN s.metric_role = 'primary' AND s.diff + s.cs_half_width < 0 THEN 'losing'
    ELSE 'inconclusive'
  END AS status,
  ROUND(SAFE_DIVIDE(s.n_t, s.n_t + s.n_c), 4) AS treatment_share
FROM sequential AS s
JOIN running AS r USING (experiment_key)
WHERE s.as_of_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
ORDER BY s.experiment_key, s.metric_role, s.metric_name, s.variant, s.as_of_date
