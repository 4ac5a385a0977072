-- Premium subscription conversion by acquisition surface (in-app upsell locations).
-- Conversion counted if the user starts a premium subscription within 1 or 7 days
-- after seeing an upsell on that surface (multi-touch; a user can count for several surfaces).
SELECT
  u.surface,
  COUNT(DISTINCT u.user_id) AS users_shown,
  COUNT(DISTINCT IF(s.started_at BETWEEN u.shown_at AND TIMESTAMP_ADD(u.shown_at, INTERVAL 1 DAY), u.user_id, NULL)) AS converted_24h,
  COUNT(DISTINCT IF(s.started_at BETWEEN u.shown_at AND TIMESTAMP_ADD(u.shown_at, INTERVAL 7 DAY), u.user_id, NULL)) AS converted_7d,
  ROUND(SAFE_DIVIDE(
    COUNT(DISTINCT IF(s.started_at BETWEEN u.shown_at AND TIMESTAMP_ADD(u.shown_at, INTERVAL 7 DAY), u.user_id, NULL)),
    COUNT(DISTINCT u.user_id)
  ), 5) AS cvr_7d,
  APPROX_TOP_COUNT(s.plan, 2) AS plans_chosen
FROM `chatco-dw.monetisation.upsell_impressions` AS u
LEFT JOIN `chatco-dw.monetisation.premium_subscriptions` AS s
  ON s.user_id = u.user_id
 AND s.started_at >= u.shown_at
WHERE u.shown_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY u.surface
ORDER BY users_shown DESC
