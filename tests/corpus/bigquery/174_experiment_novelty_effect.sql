-- Novelty check: treatment lift by days since first exposure (day 0..13).
WITH exp AS (
  SELECT user_id, variant, MIN(DATE(exposed_at)) AS first_day
  FROM `growth-exp.experimentation.exposures`
  WHERE experiment_key = 'home_feed_ranker_v9'
  GROUP BY user_id, variant
),
daily AS (
  SELECT
    e.variant,
    DATE_DIFF(m.metric_date, e.first_day, DAY) AS day_n,
    e.user_id,
    SUM(IF(m.metric_name = 'sessions', m.value, 0)) AS sessions
  FROM exp AS e
  JOIN `growth-exp.metrics.user_daily_metrics` AS m
    ON m.user_id = e.user_id
   AND m.metric_date BETWEEN e.first_day AND DATE_ADD(e.first_day, INTERVAL 13 DAY)
  GROUP BY 1, 2, 3
)
SELECT
  day_n,
  AVG(IF(variant = 'control', sessions, NULL)) AS control_sessions,
  AVG(IF(variant = 'treatment', sessions, NULL)) AS treatment_sessions,
  SAFE_DIVIDE(AVG(IF(variant = 'treatment', sessions, NULL)), AVG(IF(variant = 'control', sessions, NULL))) - 1 AS lift,
  COUNT(DISTINCT user_id) AS users
FROM daily
GROUP BY day_n
ORDER BY day_n
