-- Normalise optional repeated fields: replace NULL arrays with typed empty arrays so that
-- downstream UNNEST joins behave consistently.
SELECT
  user_id,
  IFNULL(interests, ARRAY<STRING>[]) AS interests,
  IFNULL(
    devices,
    ARRAY<
      STRUCT<
        device_id STRING,
        platform STRING,
        last_seen TIMESTAMP
      >
    >[]
  ) AS devices,
  COALESCE(
    consents,
    ARRAY<STRUCT<purpose STRING, granted BOOL, updated_at TIMESTAMP>>[]
  ) AS consents,
  ARRAY_LENGTH(IFNULL(interests, ARRAY<STRING>[])) AS interest_count,
  IF(ARRAY_LENGTH(devices) > 0, devices[OFFSET(0)].platform, 'unknown') AS primary_platform
FROM identity.user_profiles
WHERE updated_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
