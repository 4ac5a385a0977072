-- Crash-free users by app version (Crashlytics export joined with Firebase analytics users).
WITH active AS (
  SELECT
    app_info.version AS app_version,
    platform,
    COUNT(DISTINCT user_pseudo_id) AS active_users
  FROM `analytics_153293282.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
    AND event_name = 'user_engagement'
  GROUP BY 1, 2
),
crashes AS (
  SELECT
    application.display_version AS app_version,
    platform,
    COUNT(DISTINCT installation_uuid) AS crashed_installs,
    COUNT(*) AS crash_events,
    APPROX_TOP_COUNT(issue_title, 3) AS top_issues
  FROM firebase_crashlytics.com_example_fitnesstracker_ANDROID
  WHERE event_timestamp >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
    AND is_fatal
  GROUP BY 1, 2
)
SELECT
  a.app_version,
  a.platform,
  a.active_users,
  IFNULL(c.crashed_installs, 0) AS crashed_users,
  IFNULL(c.crash_events, 0) AS crash_events,
  ROUND(100 * (1 - SAFE_DIVIDE(IFNULL(c.crashed_installs, 0), a.active_users)), 3) AS crash_free_users_pct,
  c.top_issues
FROM active AS a
LEFT JOIN crashes AS c
  ON c.app_version = a.app_version
 AND UPPER(c.platform) = UPPER(a.platform)
WHERE a.active_users >= 500
ORDER BY a.app_version DESC
