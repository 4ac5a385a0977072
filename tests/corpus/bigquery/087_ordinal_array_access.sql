-- Parse user agent tokens & semantic versions using ORDINAL/OFFSET array access.
-- ORDINAL is 1-based, OFFSET is 0-based; SAFE_ variants return NULL when out of range.
-- version_sortkey lets us order versions numerically (5.10 > 5.9).
-- Used to decide which app versions can be force-upgraded.
-- Last 3 days of sessions only.
SELECT
  app_build,
  SPLIT(app_version, '.')[ORDINAL(1)] AS major,
  SPLIT(app_version, '.')[SAFE_ORDINAL(2)] AS minor,
  SPLIT(app_version, '.')[SAFE_ORDINAL(3)] AS patch,
  SAFE_CAST(SPLIT(app_version, '.')[SAFE_OFFSET(0)] AS INT64) * 10000
    + IFNULL(SAFE_CAST(SPLIT(app_version, '.')[SAFE_OFFSET(1)] AS INT64), 0) * 100
    + IFNULL(SAFE_CAST(SPLIT(app_version, '.')[SAFE_OFFSET(2)] AS INT64), 0) AS version_sortkey,
  SPLIT(user_agent, ' ')[OFFSET(0)] AS ua_product,
  ARRAY_REVERSE(SPLIT(user_agent, ' '))[SAFE_OFFSET(0)] AS ua_last_token,
  COUNT(*) AS sessions
FROM raw.app_sessions
WHERE session_start >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY version_sortkey DESC, sessions DESC
