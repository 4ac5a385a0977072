-- Forum threads: time to first reply and to accepted answer, by tag.
-- Forum threads can carry several tags; a thread counts once per tag.
-- Locked threads are excluded (usually moderation actions).
-- Minimum 30 threads per tag.
SELECT
  tag,
  COUNT(*) AS threads,
  COUNTIF(t.first_reply_at IS NOT NULL) AS replied,
  COUNTIF(t.accepted_answer_at IS NOT NULL) AS resolved,
  ROUND(SAFE_DIVIDE(COUNTIF(t.accepted_answer_at IS NOT NULL), COUNT(*)), 4) AS resolution_rate,
  APPROX_QUANTILES(TIMESTAMP_DIFF(t.first_reply_at, t.created_at, MINUTE), 100 IGNORE NULLS)[OFFSET(50)] AS p50_minutes_to_reply,
  APPROX_QUANTILES(TIMESTAMP_DIFF(t.accepted_answer_at, t.created_at, HOUR), 100 IGNORE NULLS)[OFFSET(50)] AS p50_hours_to_answer,
  ROUND(AVG(t.reply_count), 2) AS avg_replies
FROM `chatco-dw.forums.threads` AS t,
  UNNEST(t.tags) AS tag
WHERE t.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
  AND NOT t.is_locked
GROUP BY tag
HAVING threads >= 30
ORDER BY resolution_rate
