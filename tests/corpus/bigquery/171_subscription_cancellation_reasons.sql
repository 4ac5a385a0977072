-- Cancellation survey reasons by plan and tenure bucket (last 6 months).
-- Survey answers are optional; 'no_answer' covers skipped surveys.
-- share_within_plan sums to 1 across tenure buckets and reasons for a plan.
SELECT
  s.plan_code,
  CASE
    WHEN DATE_DIFF(DATE(c.canceled_at), DATE(s.started_at), MONTH) < 1 THEN '<1m'
    WHEN DATE_DIFF(DATE(c.canceled_at), DATE(s.started_at), MONTH) < 3 THEN '1-3m'
    WHEN DATE_DIFF(DATE(c.canceled_at), DATE(s.started_at), MONTH) < 12 THEN '3-12m'
    ELSE '12m+'
  END AS tenure_bucket,
  IFNULL(c.survey_reason, 'no_answer') AS reason,
  COUNT(*) AS cancellations,
  ROUND(COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY s.plan_code), 4) AS share_within_plan,
  ARRAY_AGG(c.survey_comment IGNORE NULLS ORDER BY CHAR_LENGTH(c.survey_comment) DESC LIMIT 3) AS sample_comments,
  COUNTIF(c.accepted_retention_offer) AS saved_by_offer
FROM billing.cancellations AS c
JOIN billing.subscriptions AS s USING (subscription_id)
WHERE c.canceled_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)
GROUP BY 1, 2, 3
ORDER BY s.plan_code, cancellations DESC
