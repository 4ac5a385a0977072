-- New-user 30-day retention by the type of the first server they joined.
WITH first_join AS (
  SELECT
    me.user_id,
    ARRAY_AGG(STRUCT(me.server_id, me.event_at) ORDER BY me.event_at LIMIT 1)[OFFSET(0)] AS first_server
  FROM `chatco-dw.servers.membership_events` AS me
  JOIN `chatco-dw.accounts.users` AS u USING (user_id)
  WHERE me.event_type = 'join'
    AND u.created_at >= TIMESTAMP '2024-04-01'
    AND u.created_at < TIMESTAMP '2024-05-01'
  GROUP BY me.user_id
)
SELECT
  s.server_category,
  s.is_partnered,
  COUNT(*) AS new_users,
  COUNTIF(EXISTS (
    SELECT 1 FROM `chatco-dw.accounts.user_activity_daily` AS a
    WHERE a.user_id = f.user_id
      AND a.activity_date BETWEEN DATE_ADD(DATE(f.first_server.event_at), INTERVAL 28 DAY)
                              AND DATE_ADD(DATE(f.first_server.event_at), INTERVAL 34 DAY)
  )) AS retained_w5,
  ROUND(SAFE_DIVIDE(COUNTIF(EXISTS (
    SELECT 1 FROM `chatco-dw.accounts.user_activity_daily` AS a
    WHERE a.user_id = f.user_id
      AND a.activity_date BETWEEN DATE_ADD(DATE(f.first_server.event_at), INTERVAL 28 DAY)
                              AND DATE_ADD(DATE(f.first_server.event_at), INTERVAL 34 DAY)
  )), COUNT(*)), 4) AS retention_rate
FROM first_join AS f
JOIN `chatco-dw.servers.servers` AS s
  ON s.server_id = f.first_server.server_id
GROUP BY s.server_category, s.is_partnered
ORDER BY new_users DESC
