-- Player churn model features (mobile RPG).
-- Snapshot every Monday; label = no session in the 14 days after the snapshot.
-- Features use the 28 days before the snapshot only.

WITH snapshots AS (
  SELECT snapshot_date
  FROM UNNEST(GENERATE_DATE_ARRAY(DATE '2024-03-04', DATE_SUB(CURRENT_DATE(), INTERVAL 15 DAY), INTERVAL 1 WEEK)) AS snapshot_date
),

player_days AS (
  SELECT
    player_id,
    event_date,
    session_count,
    session_minutes,
    levels_completed,
    max_level,
    battles_played,
    battles_won,
    pvp_matches,
    guild_messages,
    iap_usd,
    ad_views,
    soft_currency_earned,
    soft_currency_spent,
    hard_currency_balance_eod,
    friends_count_eod,
    crashes
  FROM marts.player_daily
  WHERE event_date >= DATE '2024-02-01'
),

eligible AS (
  -- players active at least once in the 28 days before the snapshot
  SELECT DISTINCT
    s.snapshot_date,
    pd.player_id
  FROM snapshots AS s
  JOIN player_days AS pd
    ON pd.event_date BETWEEN DATE_SUB(s.snapshot_date, INTERVAL 28 DAY) AND DATE_SUB(s.snapshot_date, INTERVAL 1 DAY)
),

window_28d AS (
  SELECT
    e.snapshot_date,
    e.player_id,
    COUNT(DISTINCT pd.event_date) AS active_days_28d,
    COUNT(DISTINCT IF(pd.event_date >= DATE_SUB(e.snapshot_date, INTERVAL 7 DAY), pd.event_date, NULL)) AS active_days_7d,
    SUM(pd.session_count) AS sessions_28d,
    SUM(IF(pd.event_date >= DATE_SUB(e.snapshot_date, INTERVAL 7 DAY), pd.session_count, 0)) AS sessions_7d,
    SUM(pd.session_minutes) AS minutes_28d,
    SUM(IF(pd.event_date >= DATE_SUB(e.snapshot_date, INTERVAL 7 DAY), pd.session_minutes, 0)) AS minutes_7d,
    SUM(pd.levels_completed) AS levels_28d,
    MAX(pd.max_level) AS max_level,
    SUM(pd.battles_played) AS battles_28d,
    SAFE_DIVIDE(SUM(pd.battles_won), SUM(pd.battles_played)) AS win_rate_28d,
    SUM(pd.pvp_matches) AS pvp_28d,
    SUM(pd.guild_messages) AS guild_messages_28d,
    SUM(pd.iap_usd) AS iap_usd_28d,
    SUM(pd.ad_views) AS ad_views_28d,
    SAFE_DIVIDE(SUM(pd.soft_currency_spent), SUM(pd.soft_currency_earned)) AS soft_spend_ratio_28d,
    ARRAY_AGG(pd.hard_currency_balance_eod ORDER BY pd.event_date DESC LIMIT 1)[OFFSET(0)] AS hard_currency_balance,
    ARRAY_AGG(pd.friends_count_eod ORDER BY pd.event_date DESC LIMIT 1)[OFFSET(0)] AS friends_count,
    SUM(pd.crashes) AS crashes_28d,
    MAX(pd.event_date) AS last_active_date,
    -- slope of daily minutes over the window (least squares on day index)
    SAFE_DIVIDE(
      COUNT(*) * SUM(DATE_DIFF(pd.event_date, e.snapshot_date, DAY) * pd.session_minutes)
        - SUM(DATE_DIFF(pd.event_date, e.snapshot_date, DAY)) * SUM(pd.session_minutes),
      COUNT(*) * SUM(POW(DATE_DIFF(pd.event_date, e.snapshot_date, DAY), 2))
        - POW(SUM(DATE_DIFF(pd.event_date, e.snapshot_date, DAY)), 2)
    ) AS minutes_trend_slope
  FROM eligible AS e
  JOIN player_days AS pd
    ON pd.player_id = e.player_id
   AND pd.event_date BETWEEN DATE_SUB(e.snapshot_date, INTERVAL 28 DAY) AND DATE_SUB(e.snapshot_date, INTERVAL 1 DAY)
  GROUP BY e.snapshot_date, e.player_id
),

lifetime AS (
  SELECT
    e.snapshot_date,
    e.player_id,
    MIN(pd.event_date) AS first_active_date,
    SUM(pd.iap_usd) AS lifetime_iap_usd,
    COUNT(DISTINCT pd.event_date) AS lifetime_active_days
  FROM eligible AS e
  JOIN player_days AS pd
    ON pd.player_id = e.player_id
   AND pd.event_date < e.snapshot_date
  GROUP BY e.snapshot_date, e.player_id
),

social AS (
  SELECT
    e.snapshot_date,
    e.player_id,
    LOGICAL_OR(gm.left_at IS NULL OR gm.left_at >= TIMESTAMP(e.snapshot_date)) AS in_guild,
    MAX(g.active_members_7d) AS guild_active_members
  FROM eligible AS e
  JOIN social.guild_memberships AS gm
    ON gm.player_id = e.player_id
   AND gm.joined_at < TIMESTAMP(e.snapshot_date)
  LEFT JOIN social.guild_daily AS g
    ON g.guild_id = gm.guild_id
   AND g.stat_date = DATE_SUB(e.snapshot_date, INTERVAL 1 DAY)
  GROUP BY e.snapshot_date, e.player_id
),

labels AS (
  SELECT
    e.snapshot_date,
    e.player_id,
    NOT EXISTS (
      SELECT 1
      FROM player_days AS pd
      WHERE pd.player_id = e.player_id
        AND pd.event_date BETWEEN e.snapshot_date AND DATE_ADD(e.snapshot_date, INTERVAL 13 DAY)
        AND pd.session_count > 0
    ) AS churned_14d
  FROM eligible AS e
),

profile AS (
  SELECT
    player_id,
    platform,
    country,
    install_source,
    device_tier
  FROM crm.players
)

SELECT
  w.snapshot_date,
  w.player_id,
  p.platform,
  p.country,
  p.install_source,
  p.device_tier,
  DATE_DIFF(w.snapshot_date, l.first_active_date, DAY) AS tenure_days,
  l.lifetime_active_days,
  ROUND(l.lifetime_iap_usd, 2) AS lifetime_iap_usd,
  l.lifetime_iap_usd > 0 AS is_payer,
  w.active_days_28d,
  w.active_days_7d,
  w.sessions_28d,
  w.sessions_7d,
  ROUND(w.minutes_28d, 1) AS minutes_28d,
  ROUND(w.minutes_7d, 1) AS minutes_7d,
  ROUND(SAFE_DIVIDE(w.minutes_7d, w.minutes_28d / 4), 3) AS minutes_7d_vs_avg_week,
  ROUND(w.minutes_trend_slope, 4) AS minutes_trend_slope,
  DATE_DIFF(w.snapshot_date, w.last_active_date, DAY) AS days_since_last_active,
  w.levels_28d,
  w.max_level,
  w.battles_28d,
  ROUND(w.win_rate_28d, 3) AS win_rate_28d,
  w.pvp_28d,
  w.guild_messages_28d,
  ROUND(w.iap_usd_28d, 2) AS iap_usd_28d,
  w.ad_views_28d,
  ROUND(w.soft_spend_ratio_28d, 3) AS soft_spend_ratio_28d,
  w.hard_currency_balance,
  w.friends_count,
  w.crashes_28d,
  IFNULL(s.in_guild, FALSE) AS in_guild,
  s.guild_active_members,
  lb.churned_14d AS label
FROM window_28d AS w
JOIN lifetime AS l USING (snapshot_date, player_id)
JOIN labels AS lb USING (snapshot_date, player_id)
LEFT JOIN social AS s USING (snapshot_date, player_id)
LEFT JOIN profile AS p USING (player_id)
