-- Family plan seat utilisation: members invited vs active, per family subscription.
-- Active family subscriptions only.
-- A member is active if seen in the app in the last 30 days.
SELECT
  f.subscription_id,
  f.owner_user_id,
  f.max_members,
  COUNT(m.member_user_id) AS invited_members,
  COUNTIF(m.accepted_at IS NOT NULL) AS joined_members,
  COUNTIF(a.last_active_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)) AS active_members_30d,
  ROUND(SAFE_DIVIDE(COUNTIF(m.accepted_at IS NOT NULL), f.max_members), 3) AS seat_fill_rate,
  LOGICAL_AND(m.accepted_at IS NULL) AS no_member_joined,
  MAX(m.accepted_at) AS last_join_at
FROM `subs-analytics.billing.family_subscriptions` AS f
LEFT JOIN `subs-analytics.billing.family_members` AS m USING (subscription_id)
LEFT JOIN `subs-analytics.product.user_last_active` AS a
  ON a.user_id = m.member_user_id
WHERE f.status = 'active'
GROUP BY f.subscription_id, f.owner_user_id, f.max_members
ORDER BY seat_fill_rate
