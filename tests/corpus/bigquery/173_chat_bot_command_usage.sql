-- Bot slash-command usage: invocations, unique users, error rate and latency per command.
-- Slash commands only (messages starting with '/').
-- Timeouts: responses slower than 3 s (the client gives up).
-- Minimum 100 invocations per command in the week.
SELECT
  bot_id,
  REGEXP_EXTRACT(command_text, r'^/([a-z0-9_-]+)') AS command,
  COUNT(*) AS invocations,
  COUNT(DISTINCT user_id) AS users,
  COUNT(DISTINCT server_id) AS servers,
  ROUND(COUNTIF(response_status != 'ok') / COUNT(*), 4) AS error_rate,
  APPROX_QUANTILES(response_ms, 100)[OFFSET(50)] AS p50_ms,
  APPROX_QUANTILES(response_ms, 100)[OFFSET(99)] AS p99_ms,
  COUNTIF(response_ms > 3000) AS timeouts
FROM `chatco-dw.bots.interactions`
WHERE invoked_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
  AND STARTS_WITH(command_text, '/')
GROUP BY bot_id, command
HAVING invocations >= 100
ORDER BY invocations DESC
