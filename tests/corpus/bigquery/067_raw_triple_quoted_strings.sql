-- Extract structured fields from free-text log lines using raw and triple-quoted regexes.
-- Auth gateway logs are unstructured text; this query pulls out the useful bits.
-- Secrets are redacted before the output leaves the project.
SELECT
  log_ts,
  REGEXP_EXTRACT(message, r"user=([A-Za-z0-9_-]+)") AS user_name,
  REGEXP_EXTRACT(message, r'ip=(\d{1,3}(?:\.\d{1,3}){3})') AS ip,
  SAFE_CAST(REGEXP_EXTRACT(message, r'duration=(\d+)ms') AS INT64) AS duration_ms,
  REGEXP_EXTRACT(message, r"""path="([^"]+)\"""") AS quoted_path,
  REGEXP_CONTAINS(message, r'''(?i)\b(denied|forbidden|unauthori[sz]ed)\b''') AS is_auth_failure,
  REGEXP_REPLACE(message, r'(password|token|secret)=\S+', r'\1=***') AS redacted_message,
  """multi-line
note kept for the audit export""" AS export_note,
  severity
FROM logs.app_logs
WHERE log_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)
  AND service = 'auth-gateway'
  AND severity IN ('WARNING', 'ERROR')
ORDER BY log_ts DESC
LIMIT 1000
