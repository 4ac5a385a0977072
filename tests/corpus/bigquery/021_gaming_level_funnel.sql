-- ============================================================================
-- Level progression funnel & difficulty diagnostics
-- Grain: game_version x level_id x player_segment
-- Consumers: level design team (Looker "Level Health" dashboard)
-- ============================================================================
WITH installs AS (
  SELECT
    player_id,
    MIN(event_ts) AS install_ts,
    ANY_VALUE(JSON_VALUE(properties, '$.install_source')) AS install_source,
    ANY_VALUE(country) AS country,
    ANY_VALUE(platform) AS platform
  FROM `dragonforge-games.telemetry.events`
  WHERE event_name = 'install'
    AND event_date >= DATE '2024-05-01'
  GROUP BY player_id
),

spenders AS (
  SELECT
    player_id,
    SUM(CAST(JSON_VALUE(properties, '$.price_usd') AS NUMERIC)) AS lifetime_iap_usd
  FROM `dragonforge-games.telemetry.events`
  WHERE event_name = 'iap_purchase'
    AND event_date >= DATE '2024-05-01'
  GROUP BY player_id
),

segments AS (
  SELECT
    i.player_id,
    i.install_ts,
    i.platform,
    i.country,
    CASE
      WHEN s.lifetime_iap_usd >= 100 THEN 'whale'
      WHEN s.lifetime_iap_usd >= 10 THEN 'dolphin'
      WHEN s.lifetime_iap_usd > 0 THEN 'minnow'
      ELSE 'non_payer'
    END AS spend_segment,
    IF(i.install_source IN ('organic', 'unknown') OR i.install_source IS NULL, 'organic', 'paid') AS acquisition
  FROM installs AS i
  LEFT JOIN spenders AS s USING (player_id)
),

level_events AS (
  SELECT
    e.player_id,
    e.event_ts,
    e.event_name,
    e.app_version,
    SAFE_CAST(JSON_VALUE(e.properties, '$.level_id') AS INT64) AS level_id,
    SAFE_CAST(JSON_VALUE(e.properties, '$.attempt') AS INT64) AS attempt,
    SAFE_CAST(JSON_VALUE(e.properties, '$.duration_ms') AS INT64) AS duration_ms,
    SAFE_CAST(JSON_VALUE(e.properties, '$.stars') AS INT64) AS stars,
    SAFE_CAST(JSON_VALUE(e.properties, '$.moves_left') AS INT64) AS moves_left,
    JSON_VALUE(e.properties, '$.fail_reason') AS fail_reason,
    ARRAY(
      SELECT JSON_VALUE(b, '$.type')
      FROM UNNEST(JSON_QUERY_ARRAY(e.properties, '$.boosters_used')) AS b
    ) AS boosters_used
  FROM `dragonforge-games.telemetry.events` AS e
  WHERE e.event_name IN ('level_start', 'level_complete', 'level_fail', 'level_quit')
    AND e.event_date >= DATE '2024-05-01'
),

attempts AS (
  SELECT
    player_id,
    app_version,
    level_id,
    attempt,
    MIN(IF(event_name = 'level_start', event_ts, NULL)) AS started_at,
    MAX(IF(event_name = 'level_complete', event_ts, NULL)) AS completed_at,
    MAX(IF(event_name = 'level_fail', event_ts, NULL)) AS failed_at,
    MAX(IF(event_name = 'level_quit', event_ts, NULL)) AS quit_at,
    MAX(stars) AS stars,
    MAX(IF(event_name = 'level_complete', moves_left, NULL)) AS moves_left,
    MAX(duration_ms) AS duration_ms,
    ANY_VALUE(fail_reason) AS fail_reason,
    ARRAY_CONCAT_AGG(boosters_used) AS boosters_used
  FROM level_events
  WHERE level_id IS NOT NULL
  GROUP BY player_id, app_version, level_id, attempt
),

attempt_outcomes AS (
  SELECT
    a.*,
    CASE
      WHEN completed_at IS NOT NULL THEN 'win'
      WHEN failed_at IS NOT NULL THEN 'fail'
      WHEN quit_at IS NOT NULL THEN 'quit'
      ELSE 'abandoned'
    END AS outcome,
    ARRAY_LENGTH(boosters_used) > 0 AS used_booster
  FROM attempts AS a
),

player_level AS (
  SELECT
    player_id,
    level_id,
    ANY_VALUE(app_version) AS app_version,
    COUNT(*) AS attempts,
    COUNTIF(outcome = 'win') > 0 AS beaten,
    MIN(IF(outcome = 'win', attempt, NULL)) AS attempts_to_first_win,
    COUNTIF(outcome = 'fail') AS fails,
    COUNTIF(outcome = 'quit') AS quits,
    COUNTIF(used_booster) AS attempts_with_booster,
    SUM(duration_ms) / 1000 AS seconds_played,
    MAX(stars) AS best_stars,
    APPROX_TOP_COUNT(fail_reason, 1)[SAFE_OFFSET(0)].value AS top_fail_reason,
    MIN(started_at) AS first_started_at,
    MAX(COALESCE(completed_at, failed_at, quit_at, started_at)) AS last_activity_at
  FROM attempt_outcomes
  GROUP BY player_id, level_id
),

-- whether the player ever came back after their last attempt on this level
churn_points AS (
  SELECT
    pl.player_id,
    pl.level_id,
    NOT EXISTS (
      SELECT 1
      FROM level_events AS le
      WHERE le.player_id = pl.player_id
        AND le.event_ts > TIMESTAMP_ADD(pl.last_activity_at, INTERVAL 1 MINUTE)
    ) AS churned_here
  FROM player_level AS pl
  WHERE NOT pl.beaten
),

joined AS (
  SELECT
    pl.*,
    s.spend_segment,
    s.acquisition,
    s.platform,
    IFNULL(cp.churned_here, FALSE) AS churned_here,
    TIMESTAMP_DIFF(pl.first_started_at, s.install_ts, HOUR) AS hours_since_install
  FROM player_level AS pl
  JOIN segments AS s USING (player_id)
  LEFT JOIN churn_points AS cp USING (player_id, level_id)
),

level_stats AS (
  SELECT
    app_version,
    level_id,
    spend_segment,
    COUNT(*) AS players_started,
    COUNTIF(beaten) AS players_beaten,
    SUM(attempts) AS total_attempts,
    SUM(fails) AS total_fails,
    SUM(quits) AS total_quits,
    COUNTIF(churned_here) AS players_churned_here,
    AVG(attempts_to_first_win) AS avg_attempts_to_win,
    APPROX_QUANTILES(attempts_to_first_win, 100 IGNORE NULLS)[OFFSET(50)] AS p50_attempts_to_win,
    APPROX_QUANTILES(attempts_to_first_win, 100 IGNORE NULLS)[OFFSET(90)] AS p90_attempts_to_win,
    SAFE_DIVIDE(SUM(attempts_with_booster), SUM(attempts)) AS booster_usage_rate,
    AVG(seconds_played / NULLIF(attempts, 0)) AS avg_seconds_per_attempt,
    AVG(IF(beaten, best_stars, NULL)) AS avg_stars,
    APPROX_TOP_COUNT(top_fail_reason, 3) AS top_fail_reasons,
    APPROX_QUANTILES(hours_since_install, 4)[OFFSET(2)] AS median_hours_since_install
  FROM joined
  GROUP BY app_version, level_id, spend_segment
)

SELECT
  ls.*,
  ROUND(SAFE_DIVIDE(players_beaten, players_started), 4) AS pass_rate,
  ROUND(SAFE_DIVIDE(total_attempts - total_fails - total_quits, total_attempts), 4) AS win_rate_per_attempt,
  ROUND(SAFE_DIVIDE(players_churned_here, players_started), 4) AS churn_rate,
  -- funnel: share of players reaching this level relative to level 1 in the same version/segment
  ROUND(SAFE_DIVIDE(
    players_started,
    FIRST_VALUE(players_started) OVER (PARTITION BY app_version, spend_segment ORDER BY level_id)
  ), 4) AS reach_rate,
  players_started - LEAD(players_started) OVER (PARTITION BY app_version, spend_segment ORDER BY level_id) AS drop_to_next_level,
  -- difficulty spike detection: pass rate drop vs the trailing 5-level mean
  SAFE_DIVIDE(players_beaten, players_started)
    - AVG(SAFE_DIVIDE(players_beaten, players_started)) OVER (
        PARTITION BY app_version, spend_segment
        ORDER BY level_id
        ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING
      ) AS pass_rate_vs_trailing5
FROM level_stats AS ls
WHERE players_started >= 50
ORDER BY app_version DESC, spend_segment, level_id
