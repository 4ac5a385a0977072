-- Direct-message safety: first-contact DMs from adults to minors flagged by the age model.
SELECT
  d.sender_id,
  COUNT(DISTINCT d.recipient_id) AS minor_recipients_7d,
  COUNT(*) AS dms_7d,
  COUNTIF(d.is_first_contact) AS first_contact_dms,
  COUNTIF(d.contains_link) AS dms_with_links,
  COUNTIF(d.recipient_blocked_sender) AS times_blocked,
  ARRAY_AGG(DISTINCT s.server_id IGNORE NULLS LIMIT 10) AS shared_servers_sample,
  MIN(d.sent_at) AS first_dm_at
FROM `chatco-dw.safety.dm_metadata` AS d
JOIN `chatco-dw.safety.age_signals` AS ra
  ON ra.user_id = d.recipient_id AND ra.predicted_minor
JOIN `chatco-dw.safety.age_signals` AS sa
  ON sa.user_id = d.sender_id AND NOT sa.predicted_minor
LEFT JOIN `chatco-dw.servers.shared_memberships` AS s
  ON s.user_a = d.sender_id AND s.user_b = d.recipient_id
WHERE d.sent_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
GROUP BY d.sender_id
HAVING minor_recipients_7d >= 5 OR times_blocked >= 3
ORDER BY minor_recipients_7d DESC
