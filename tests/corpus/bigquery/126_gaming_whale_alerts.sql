-- Daily VIP watchlist: top spenders whose play time dropped sharply (churn-risk outreach).
WITH spend AS (
  SELECT player_id, SUM(CAST(JSON_VALUE(properties, '$.price_usd') AS NUMERIC)) AS spend_90d
  FROM `dragonforge-games.telemetry.events`
  WHERE event_name = 'iap_purchase'
    AND event_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 90 DAY)
  GROUP BY player_id
),
playtime AS (
  SELECT
    player_id,
    SUM(IF(event_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY), session_minutes, 0)) AS minutes_last_7d,
    SUM(IF(event_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 8 DAY), session_minutes, 0)) / 4 AS avg_weekly_minutes_prior
  FROM `dragonforge-games.marts.player_daily`
  WHERE event_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY)
  GROUP BY player_id
)
SELECT
  s.player_id,
  ROUND(s.spend_90d, 2) AS spend_90d,
  p.minutes_last_7d,
  ROUND(p.avg_weekly_minutes_prior, 1) AS avg_weekly_minutes_prior,
  ROUND(SAFE_DIVIDE(p.minutes_last_7d, p.avg_weekly_minutes_prior), 2) AS playtime_ratio,
  pl.last_login_at,
  pl.vip_manager
FROM spend AS s
JOIN playtime AS p USING (player_id)
LEFT JOIN `dragonforge-games.crm.players` AS pl USING (player_id)
WHERE s.spend_90d >= 500
  AND SAFE_DIVIDE(p.minutes_last_7d, p.avg_weekly_minutes_prior) < 0.5
ORDER BY s.spend_90d DESC
