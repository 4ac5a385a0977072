-- DAU / WAU / MAU and stickiness from a user-day activity table.
WITH days AS (
  SELECT d
  FROM UNNEST(GENERATE_DATE_ARRAY(DATE_SUB(CURRENT_DATE(), INTERVAL 90 DAY), DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))) AS d
),
activity AS (
  SELECT DISTINCT user_id, activity_date
  FROM saas-core-prod.product.user_activity_daily
  WHERE activity_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 120 DAY)
)
SELECT
  days.d,
  COUNT(DISTINCT IF(a.activity_date = days.d, a.user_id, NULL)) AS dau,
  COUNT(DISTINCT IF(a.activity_date > DATE_SUB(days.d, INTERVAL 7 DAY), a.user_id, NULL)) AS wau,
  COUNT(DISTINCT a.user_id) AS mau,
  ROUND(SAFE_DIVIDE(
    COUNT(DISTINCT IF(a.activity_date = days.d, a.user_id, NULL)),
    COUNT(DISTINCT a.user_id)
  ), 4) AS dau_mau
FROM days
JOIN activity AS a
  ON a.activity_date BETWEEN DATE_SUB(days.d, INTERVAL 29 DAY) AND days.d
GROUP BY days.d
ORDER BY days.d
