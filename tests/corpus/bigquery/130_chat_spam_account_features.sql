-- New-account spam features: message burst, link ratio, duplicate content and mentions in first 24h.
SELECT
  u.user_id,
  u.created_at,
  u.email_verified,
  u.phone_verified,
  COUNT(m.message_id) AS msgs_24h,
  COUNT(DISTINCT m.server_id) AS servers_24h,
  COUNT(DISTINCT m.channel_id) AS channels_24h,
  SAFE_DIVIDE(COUNTIF(REGEXP_CONTAINS(m.content, r'https?://')), COUNT(m.message_id)) AS link_ratio,
  COUNT(m.message_id) - COUNT(DISTINCT FARM_FINGERPRINT(LOWER(m.content))) AS duplicate_msgs,
  SUM(ARRAY_LENGTH(m.mentions)) AS mentions_24h,
  COUNTIF(REGEXP_CONTAINS(LOWER(m.content), r'free nitro|airdrop|claim your|crypto giveaway')) AS scam_phrase_hits,
  MIN(TIMESTAMP_DIFF(m.created_at, u.created_at, SECOND)) AS secs_to_first_msg
FROM `chatco-dw.accounts.users` AS u
LEFT JOIN `chatco-dw.messaging.messages` AS m
  ON m.author_id = u.user_id
 AND m.created_at < TIMESTAMP_ADD(u.created_at, INTERVAL 24 HOUR)
WHERE u.created_at BETWEEN TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 DAY) AND TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
GROUP BY u.user_id, u.created_at, u.email_verified, u.phone_verified
HAVING msgs_24h > 0
ORDER BY scam_phrase_hits DESC, msgs_24h DESC
