-- Channel path strings per converting user (last 5 sessions before first purchase), GA4 sessions mart.
WITH sessions AS (
  SELECT
    user_pseudo_id,
    session_start_ts,
    session_default_channel_group AS channel,
    has_purchase
  FROM marts.ga4_sessions
  WHERE session_date BETWEEN DATE '2024-04-01' AND DATE '2024-06-30'
),
first_purchase AS (
  SELECT user_pseudo_id, MIN(session_start_ts) AS converted_at
  FROM sessions
  WHERE has_purchase
  GROUP BY user_pseudo_id
)
SELECT
  path,
  COUNT(*) AS conversions,
  ROUND(COUNT(*) / SUM(COUNT(*)) OVER (), 4) AS share
FROM (
  SELECT
    f.user_pseudo_id,
    ARRAY_TO_STRING(
      ARRAY_AGG(s.channel ORDER BY s.session_start_ts DESC LIMIT 5),
      ' < '
    ) AS path
  FROM first_purchase AS f
  JOIN sessions AS s
    ON s.user_pseudo_id = f.user_pseudo_id
   AND s.session_start_ts <= f.converted_at
  GROUP BY f.user_pseudo_id
)
GROUP BY path
ORDER BY conversions DESC
LIMIT 100
