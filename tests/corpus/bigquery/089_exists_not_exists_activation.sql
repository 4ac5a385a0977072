-- Activation: signed-up users who created a project and invited a teammate within 7 days.
SELECT
  DATE_TRUNC(DATE(u.created_at), WEEK) AS signup_week,
  COUNT(*) AS signups,
  COUNTIF(EXISTS (
    SELECT 1 FROM `saas-core-prod.product.projects` AS p
    WHERE p.owner_user_id = u.user_id
      AND p.created_at <= TIMESTAMP_ADD(u.created_at, INTERVAL 7 DAY)
  )) AS created_project_7d,
  COUNTIF(EXISTS (
    SELECT 1 FROM `saas-core-prod.product.invitations` AS i
    WHERE i.inviter_user_id = u.user_id
      AND i.sent_at <= TIMESTAMP_ADD(u.created_at, INTERVAL 7 DAY)
  )) AS invited_teammate_7d,
  COUNTIF(NOT EXISTS (
    SELECT 1 FROM `saas-core-prod.product.user_activity_daily` AS a
    WHERE a.user_id = u.user_id
      AND a.activity_date > DATE(u.created_at)
  )) AS never_returned
FROM `saas-core-prod.accounts.users` AS u
WHERE u.created_at >= TIMESTAMP '2024-01-01'
  AND u.signup_source != 'sso_provisioned'
GROUP BY signup_week
ORDER BY signup_week
