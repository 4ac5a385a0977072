-- Firebase (app) day-N retention by first-open cohort week
WITH first_open AS (
  SELECT
    user_pseudo_id,
    DATE(TIMESTAMP_MICROS(MIN(user_first_touch_timestamp))) AS first_date,
    ANY_VALUE(app_info.version) AS first_version,
    ANY_VALUE(platform) AS platform
  FROM `ext-prod.analytics_153293282.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240301' AND '20240531'
    AND event_name = 'first_open'
  GROUP BY user_pseudo_id
),
activity AS (
  SELECT DISTINCT
    user_pseudo_id,
    PARSE_DATE('%Y%m%d', event_date) AS activity_date
  FROM `ext-prod.analytics_153293282.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240301' AND '20240630'
    AND event_name = 'user_engagement'
)
SELECT
  DATE_TRUNC(f.first_date, WEEK(MONDAY)) AS cohort_week,
  f.platform,
  COUNT(DISTINCT f.user_pseudo_id) AS cohort_size,
  COUNT(DISTINCT IF(DATE_DIFF(a.activity_date, f.first_date, DAY) = 1, f.user_pseudo_id, NULL)) AS d1,
  COUNT(DISTINCT IF(DATE_DIFF(a.activity_date, f.first_date, DAY) = 7, f.user_pseudo_id, NULL)) AS d7,
  COUNT(DISTINCT IF(DATE_DIFF(a.activity_date, f.first_date, DAY) = 14, f.user_pseudo_id, NULL)) AS d14,
  COUNT(DISTINCT IF(DATE_DIFF(a.activity_date, f.first_date, DAY) = 30, f.user_pseudo_id, NULL)) AS d30,
  ROUND(SAFE_DIVIDE(
    COUNT(DISTINCT IF(DATE_DIFF(a.activity_date, f.first_date, DAY) = 7, f.user_pseudo_id, NULL)),
    COUNT(DISTINCT f.user_pseudo_id)), 4) AS d7_rate
FROM first_open AS f
LEFT JOIN activity AS a
  ON a.user_pseudo_id = f.user_pseudo_id
  AND a.activity_date > f.first_date
GROUP BY cohort_week, f.platform
ORDER BY cohort_week, f.platform
