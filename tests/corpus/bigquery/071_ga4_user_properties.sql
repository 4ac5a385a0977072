-- Latest value of each user property per user (GA4 user_properties array).
-- Feeds the audience builder nightly (June snapshot used for the Q3 campaign plan).
-- user_properties carry set_timestamp_micros; the latest one wins.
-- Only the properties used for audience building are extracted.
-- Output grain: user_pseudo_id x property_key.
SELECT
  user_pseudo_id,
  up.key AS property_key,
  ARRAY_AGG(
    COALESCE(up.value.string_value, CAST(up.value.int_value AS STRING), CAST(up.value.double_value AS STRING))
    ORDER BY up.value.set_timestamp_micros DESC
    LIMIT 1
  )[OFFSET(0)] AS latest_value,
  TIMESTAMP_MICROS(MAX(up.value.set_timestamp_micros)) AS last_set_at,
  COUNT(DISTINCT COALESCE(up.value.string_value, CAST(up.value.int_value AS STRING))) AS distinct_values_seen
FROM `ext-prod.analytics_153293282.events_*`,
  UNNEST(user_properties) AS up
WHERE _TABLE_SUFFIX BETWEEN '20240601' AND '20240630'
  AND up.key IN ('membership_tier', 'preferred_sport', 'notifications_enabled', 'units')
GROUP BY user_pseudo_id, property_key
