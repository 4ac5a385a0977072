-- Path exploration: the most common 4-step page sequences leading to a conversion
-- ("sign_up" or "purchase"), compared with sequences of non-converting sessions.
-- Consecutive duplicate pages are collapsed; query strings and ids are normalised.

WITH hits AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    event_timestamp,
    event_name,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location') AS page_location
  FROM `analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
    AND event_name IN ('page_view', 'sign_up', 'purchase')
),

normalised AS (
  SELECT
    user_pseudo_id,
    session_id,
    event_timestamp,
    event_name,
    CASE
      WHEN event_name != 'page_view' THEN CONCAT('[', event_name, ']')
      ELSE REGEXP_REPLACE(
             REGEXP_REPLACE(
               REGEXP_REPLACE(LOWER(REGEXP_EXTRACT(page_location, r'^https?://[^/]+(/[^?#]*)')), r'/[0-9a-f]{8}-[0-9a-f-]{27,}', '/:uuid'),
               r'/\d+', '/:id'),
             r'/$', '')
    END AS step
  FROM hits
  WHERE session_id IS NOT NULL
),

collapsed AS (
  SELECT *
  FROM (
    SELECT
      *,
      LAG(step) OVER (PARTITION BY user_pseudo_id, session_id ORDER BY event_timestamp) AS prev_step
    FROM normalised
  )
  WHERE prev_step IS NULL OR prev_step != step
),

sessions AS (
  SELECT
    user_pseudo_id,
    session_id,
    ARRAY_AGG(step ORDER BY event_timestamp) AS steps,
    LOGICAL_OR(event_name IN ('sign_up', 'purchase')) AS converted
  FROM collapsed
  GROUP BY user_pseudo_id, session_id
),

-- for converting sessions: the 4 page steps immediately before the first conversion
converting_paths AS (
  SELECT
    s.user_pseudo_id,
    s.session_id,
    conv_idx,
    ARRAY(
      SELECT st
      FROM UNNEST(s.steps) AS st WITH OFFSET AS i
      WHERE i BETWEEN conv_idx - 4 AND conv_idx - 1
        AND NOT STARTS_WITH(st, '[')
      ORDER BY i
    ) AS path,
    s.steps[OFFSET(conv_idx)] AS conversion_step
  FROM sessions AS s
  CROSS JOIN UNNEST([(
    SELECT MIN(i) FROM UNNEST(s.steps) AS st WITH OFFSET AS i WHERE STARTS_WITH(st, '[')
  )]) AS conv_idx
  WHERE s.converted
    AND conv_idx IS NOT NULL
),

-- for non-converting sessions: the first 4 steps
non_converting_paths AS (
  SELECT
    user_pseudo_id,
    session_id,
    ARRAY(SELECT st FROM UNNEST(steps) AS st WITH OFFSET AS i WHERE i < 4 ORDER BY i) AS path
  FROM sessions
  WHERE NOT converted
    AND ARRAY_LENGTH(steps) >= 2
),

path_counts AS (
  SELECT
    ARRAY_TO_STRING(path, ' → ') AS path_key,
    ARRAY_LENGTH(path) AS path_length,
    'converting' AS cohort,
    conversion_step,
    COUNT(*) AS sessions
  FROM converting_paths
  WHERE ARRAY_LENGTH(path) > 0
  GROUP BY path_key, path_length, conversion_step

  UNION ALL

  SELECT
    ARRAY_TO_STRING(path, ' → '),
    ARRAY_LENGTH(path),
    'non_converting',
    CAST(NULL AS STRING),
    COUNT(*)
  FROM non_converting_paths
  GROUP BY 1, 2
),

totals AS (
  SELECT cohort, SUM(sessions) AS cohort_sessions
  FROM path_counts
  GROUP BY cohort
),

ranked AS (
  SELECT
    pc.*,
    SAFE_DIVIDE(pc.sessions, t.cohort_sessions) AS share_of_cohort,
    ROW_NUMBER() OVER (PARTITION BY pc.cohort, pc.conversion_step ORDER BY pc.sessions DESC) AS rank_in_cohort
  FROM path_counts AS pc
  JOIN totals AS t USING (cohort)
),

lift AS (
  -- paths that appear in both cohorts: how over-represented are they among converters?
  SELECT
    c.path_key,
    c.conversion_step,
    c.sessions AS converting_sessions,
    n.sessions AS non_converting_sessions,
    SAFE_DIVIDE(c.share_of_cohort, n.share_of_cohort) AS representation_lift
  FROM ranked AS c
  LEFT JOIN ranked AS n
    ON n.path_key = c.path_key
   AND n.cohort = 'non_converting'
  WHERE c.cohort = 'converting'
)

SELECT
  r.cohort,
  r.conversion_step,
  r.rank_in_cohort,
  r.path_key,
  r.path_length,
  r.sessions,
  ROUND(r.share_of_cohort * 100, 2) AS share_pct,
  ROUND(l.representation_lift, 2) AS lift_vs_non_converting,
  l.non_converting_sessions
FROM ranked AS r
LEFT JOIN lift AS l
  ON r.cohort = 'converting'
 AND l.path_key = r.path_key
 AND l.conversion_step = r.conversion_step
WHERE r.rank_in_cohort <= 25
ORDER BY r.cohort, r.conversion_step, r.rank_in_cohort
