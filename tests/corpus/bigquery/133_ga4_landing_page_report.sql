-- Landing page performance (last 28 complete days) from the GA4 sessions mart.
-- Trailing slashes are stripped so /pricing and /pricing/ are merged.
SELECT
  REGEXP_REPLACE(landing_page_path, r'/$', '') AS landing_page,
  session_default_channel_group AS channel,
  COUNT(*) AS sessions,
  COUNTIF(is_new_user_session) AS new_user_sessions,
  ROUND(COUNTIF(is_engaged) / COUNT(*), 4) AS engagement_rate,
  ROUND(AVG(engagement_seconds), 1) AS avg_engagement_s,
  ROUND(AVG(pageviews), 2) AS pages_per_session,
  SUM(purchases) AS purchases,
  ROUND(SUM(revenue_usd), 2) AS revenue_usd,
  ROUND(SAFE_DIVIDE(COUNTIF(has_purchase), COUNT(*)) * 100, 3) AS session_cvr_pct,
  ROUND(SAFE_DIVIDE(SUM(revenue_usd), COUNT(*)), 4) AS revenue_per_session
FROM `acme-web-prod.marts.ga4_sessions`
WHERE session_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 28 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  AND landing_page_path IS NOT NULL
GROUP BY landing_page, channel
HAVING sessions >= 100
ORDER BY sessions DESC
LIMIT 1000
