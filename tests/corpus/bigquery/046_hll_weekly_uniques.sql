-- Mergeable unique-user counts: build daily HLL sketches, then merge into weekly/monthly.
WITH daily_sketches AS (
  SELECT
    event_date,
    country,
    HLL_COUNT.INIT(user_pseudo_id, 14) AS users_sketch
  FROM `acme-web-prod.marts.ga4_events_flat`
  WHERE event_date BETWEEN DATE '2024-01-01' AND DATE '2024-06-30'
  GROUP BY event_date, country
)
SELECT
  DATE_TRUNC(event_date, ISOWEEK) AS iso_week,
  country,
  HLL_COUNT.MERGE(users_sketch) AS weekly_users,
  SUM(HLL_COUNT.EXTRACT(users_sketch)) AS sum_of_daily_users,
  ROUND(SAFE_DIVIDE(SUM(HLL_COUNT.EXTRACT(users_sketch)), HLL_COUNT.MERGE(users_sketch)) / 7, 3) AS stickiness_dau_wau
FROM daily_sketches
GROUP BY iso_week, country
HAVING weekly_users > 100
ORDER BY iso_week, weekly_users DESC
