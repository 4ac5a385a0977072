# Daily KPIs for the mobile game: DAU, new users, payers, revenue, ARPDAU.
WITH daily AS (
  SELECT
    event_date,
    player_id,
    LOGICAL_OR(event_name = 'install') AS is_new,
    SUM(IF(event_name = 'iap_purchase', CAST(JSON_VALUE(properties, '$.price_usd') AS NUMERIC), 0)) AS iap_usd,
    SUM(IF(event_name = 'ad_impression', SAFE_CAST(JSON_VALUE(properties, '$.revenue_usd') AS NUMERIC), 0)) AS ad_usd,
    COUNTIF(event_name = 'session_start') AS sessions
  FROM `dragonforge-games.telemetry.events`
  WHERE event_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 60 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  GROUP BY event_date, player_id
)
SELECT
  event_date,
  COUNT(*) AS dau,
  COUNTIF(is_new) AS new_users,
  COUNTIF(iap_usd > 0) AS payers,
  ROUND(SUM(iap_usd), 2) AS iap_revenue,
  ROUND(SUM(ad_usd), 2) AS ad_revenue,
  ROUND(SAFE_DIVIDE(SUM(iap_usd + ad_usd), COUNT(*)), 4) AS arpdau,
  ROUND(SAFE_DIVIDE(COUNTIF(iap_usd > 0), COUNT(*)) * 100, 2) AS payer_pct,
  ROUND(AVG(sessions), 2) AS sessions_per_dau
FROM daily
GROUP BY event_date
ORDER BY event_date
