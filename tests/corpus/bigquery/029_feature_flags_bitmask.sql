-- Decode the packed feature-flag bitmask stored on each account.
-- bit 0: beta_ui, bit 1: sso_enabled, bit 2: audit_log, bit 3: api_v2, bits 4-7: plan tier
SELECT
  account_id,
  flags,
  (flags & (1 << 0)) != 0 AS beta_ui,
  (flags & (1 << 1)) != 0 AS sso_enabled,
  (flags & (1 << 2)) != 0 AS audit_log,
  (flags & (1 << 3)) != 0 AS api_v2,
  (flags >> 4) & 0xF AS plan_tier,
  BIT_COUNT(flags & 0x0F) AS enabled_feature_count,
  flags | (1 << 2) AS flags_with_audit_forced,
  flags ^ previous_flags AS changed_bits,
  BIT_COUNT(flags ^ previous_flags) AS bits_changed
FROM (
  SELECT
    account_id,
    flags,
    LAG(flags, 1, 0) OVER (PARTITION BY account_id ORDER BY updated_at) AS previous_flags,
    updated_at
  FROM `saas-core-prod.accounts.account_flag_history`
  WHERE updated_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
)
WHERE flags != previous_flags
QUALIFY ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY updated_at DESC) = 1
ORDER BY bits_changed DESC
