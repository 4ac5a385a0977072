-- Device sharing graph: accounts connected through shared devices (one hop), for ring detection.
WITH edges AS (
  SELECT DISTINCT user_id, device_fingerprint
  FROM `secops-prod.auth.login_events`
  WHERE event_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
    AND result = 'success'
    AND device_fingerprint IS NOT NULL
),
device_degree AS (
  SELECT device_fingerprint, COUNT(DISTINCT user_id) AS users_on_device
  FROM edges
  GROUP BY device_fingerprint
)
SELECT
  a.user_id,
  COUNT(DISTINCT b.user_id) AS linked_accounts,
  COUNT(DISTINCT a.device_fingerprint) AS shared_devices,
  ARRAY_AGG(DISTINCT b.user_id ORDER BY b.user_id LIMIT 25) AS linked_sample,
  MAX(d.users_on_device) AS max_users_on_one_device,
  COUNTIF(bl.user_id IS NOT NULL) AS links_to_blocked_accounts
FROM edges AS a
JOIN device_degree AS d USING (device_fingerprint)
JOIN edges AS b
  ON b.device_fingerprint = a.device_fingerprint
 AND b.user_id != a.user_id
LEFT JOIN `secops-prod.accounts.blocked_users` AS bl
  ON bl.user_id = b.user_id
WHERE d.users_on_device BETWEEN 2 AND 50   -- very high degree devices are shared kiosks / emulators
GROUP BY a.user_id
HAVING linked_accounts >= 3 OR links_to_blocked_accounts > 0
ORDER BY links_to_blocked_accounts DESC, linked_accounts DESC
