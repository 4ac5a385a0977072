-- Account takeover signals from authentication logs.
-- Flags: impossible travel, new device + new country, credential stuffing bursts,
-- MFA fatigue (many push denials), and password reset followed by payout change.

WITH logins AS (
  SELECT
    l.event_id,
    l.user_id,
    l.event_ts,
    l.result,                       -- 'success' | 'bad_password' | 'mfa_denied' | 'locked'
    l.auth_method,                  -- 'password' | 'sso' | 'passkey' | 'magic_link'
    l.ip,
    l.asn,
    l.asn_org,
    l.country,
    l.city,
    ST_GEOGPOINT(l.ip_lng, l.ip_lat) AS ip_point,
    l.device_fingerprint,
    l.user_agent,
    REGEXP_CONTAINS(LOWER(l.asn_org), r'hosting|cloud|datacenter|vps|ovh|digitalocean|amazon|google cloud|azure') AS is_hosting_asn
  FROM `secops-prod.auth.login_events` AS l
  WHERE l.event_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
),

successful AS (
  SELECT
    *,
    LAG(event_ts) OVER w AS prev_ts,
    LAG(ip_point) OVER w AS prev_point,
    LAG(country) OVER w AS prev_country
  FROM logins
  WHERE result = 'success'
  WINDOW w AS (PARTITION BY user_id ORDER BY event_ts)
),

impossible_travel AS (
  SELECT
    user_id,
    event_id,
    event_ts,
    ROUND(ST_DISTANCE(ip_point, prev_point) / 1000) AS km,
    TIMESTAMP_DIFF(event_ts, prev_ts, MINUTE) AS minutes,
    SAFE_DIVIDE(ST_DISTANCE(ip_point, prev_point) / 1000, TIMESTAMP_DIFF(event_ts, prev_ts, SECOND) / 3600) AS implied_kmh
  FROM successful
  WHERE prev_point IS NOT NULL
    AND country != prev_country
),

device_history AS (
  -- devices & countries seen for the user in the 90 days before the window
  SELECT
    user_id,
    ARRAY_AGG(DISTINCT device_fingerprint IGNORE NULLS) AS known_devices,
    ARRAY_AGG(DISTINCT country IGNORE NULLS) AS known_countries
  FROM `secops-prod.auth.login_events`
  WHERE event_ts BETWEEN TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 93 DAY) AND TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
    AND result = 'success'
  GROUP BY user_id
),

new_device_country AS (
  SELECT
    s.user_id,
    s.event_id,
    s.event_ts,
    s.device_fingerprint,
    s.country
  FROM successful AS s
  JOIN device_history AS h USING (user_id)
  WHERE s.device_fingerprint NOT IN UNNEST(h.known_devices)
    AND s.country NOT IN UNNEST(h.known_countries)
),

stuffing AS (
  -- many distinct users failing from one IP within 10 minutes
  SELECT
    ip,
    ANY_VALUE(asn_org) AS asn_org,
    TIMESTAMP_TRUNC(event_ts, MINUTE) AS minute_ts,
    COUNT(DISTINCT user_id) OVER (PARTITION BY ip) AS distinct_users_ip,
    COUNTIF(result = 'bad_password') AS failures
  FROM logins
  GROUP BY ip, minute_ts, user_id
),

stuffing_ips AS (
  SELECT
    ip,
    ANY_VALUE(asn_org) AS asn_org,
    SUM(failures) AS failures,
    MAX(distinct_users_ip) AS distinct_users
  FROM stuffing
  GROUP BY ip
  HAVING SUM(failures) >= 50 AND MAX(distinct_users_ip) >= 20
),

mfa_fatigue AS (
  SELECT
    user_id,
    TIMESTAMP_TRUNC(event_ts, HOUR) AS hour_ts,
    COUNTIF(result = 'mfa_denied') AS mfa_denials,
    LOGICAL_OR(result = 'success') AS eventually_succeeded
  FROM logins
  GROUP BY user_id, hour_ts
  HAVING COUNTIF(result = 'mfa_denied') >= 5
),

reset_then_payout AS (
  SELECT
    r.user_id,
    r.reset_at,
    p.changed_at AS payout_changed_at,
    TIMESTAMP_DIFF(p.changed_at, r.reset_at, MINUTE) AS minutes_between
  FROM `secops-prod.auth.password_resets` AS r
  JOIN `secops-prod.accounts.payout_method_changes` AS p
    ON p.user_id = r.user_id
   AND p.changed_at BETWEEN r.reset_at AND TIMESTAMP_ADD(r.reset_at, INTERVAL 2 HOUR)
  WHERE r.reset_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
),

signals AS (
  SELECT user_id, event_ts AS signal_ts, 'impossible_travel' AS signal,
         FORMAT('%d km in %d min (%.0f km/h)', CAST(km AS INT64), minutes, implied_kmh) AS detail, 40 AS weight
  FROM impossible_travel
  WHERE implied_kmh > 900 AND km > 500

  UNION ALL

  SELECT user_id, event_ts, 'new_device_new_country',
         CONCAT('device ', SUBSTR(device_fingerprint, 1, 8), ' from ', country), 25
  FROM new_device_country

  UNION ALL

  SELECT l.user_id, l.event_ts, 'login_from_stuffing_ip',
         CONCAT(l.ip, ' (', IFNULL(si.asn_org, '?'), ')'), 30
  FROM logins AS l
  JOIN stuffing_ips AS si USING (ip)
  WHERE l.result = 'success'

  UNION ALL

  SELECT user_id, hour_ts, 'mfa_fatigue',
         FORMAT('%d denials, succeeded=%t', mfa_denials, eventually_succeeded), IF(eventually_succeeded, 45, 15)
  FROM mfa_fatigue

  UNION ALL

  SELECT user_id, payout_changed_at, 'reset_then_payout_change',
         FORMAT('payout changed %d min after password reset', minutes_between), 50
  FROM reset_then_payout

  UNION ALL

  SELECT user_id, event_ts, 'hosting_asn_success', asn_org, 10
  FROM logins
  WHERE result = 'success' AND is_hosting_asn AND auth_method = 'password'
)

SELECT
  s.user_id,
  u.email_domain,
  u.account_tier,
  u.created_at AS user_created_at,
  SUM(s.weight) AS risk_score,
  COUNT(DISTINCT s.signal) AS distinct_signals,
  ARRAY_AGG(STRUCT(s.signal, s.signal_ts, s.detail, s.weight) ORDER BY s.signal_ts) AS signals,
  MIN(s.signal_ts) AS first_signal_at,
  MAX(s.signal_ts) AS last_signal_at,
  CASE
    WHEN SUM(s.weight) >= 80 THEN 'lock_and_review'
    WHEN SUM(s.weight) >= 40 THEN 'step_up_auth'
    ELSE 'monitor'
  END AS recommended_action
FROM signals AS s
LEFT JOIN `secops-prod.accounts.users` AS u USING (user_id)
GROUP BY s.user_id, u.email_domain, u.account_tier, u.created_at
HAVING SUM(s.weight) >= 25
ORDER BY risk_score DESC
