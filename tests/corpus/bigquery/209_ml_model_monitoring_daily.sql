-- Online model monitoring: daily score distribution and realised precision at the decision threshold.
-- Fraud labels mature slowly (chargebacks); recent days will show many unlabelled rows.
-- Precision is computed over labelled flagged requests only.
-- score_deciles gives 11 values (min, 10th..90th percentile, max).
SELECT
  DATE(s.scored_at) AS score_date,
  s.model_version,
  COUNT(*) AS scored,
  ROUND(AVG(s.score), 4) AS mean_score,
  APPROX_QUANTILES(s.score, 10) AS score_deciles,
  COUNTIF(s.score >= s.threshold) AS flagged,
  COUNTIF(s.score >= s.threshold AND l.is_positive) AS true_positives,
  ROUND(SAFE_DIVIDE(COUNTIF(s.score >= s.threshold AND l.is_positive), COUNTIF(s.score >= s.threshold AND l.is_positive IS NOT NULL)), 4) AS precision,
  ROUND(SAFE_DIVIDE(COUNTIF(s.score >= s.threshold AND l.is_positive), COUNTIF(l.is_positive)), 4) AS recall,
  COUNTIF(l.is_positive IS NULL) AS unlabelled
FROM `ml-platform.serving_logs.fraud_model_scores` AS s
LEFT JOIN `ml-platform.labels.fraud_labels` AS l USING (request_id)
WHERE s.scored_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY score_date, s.model_version
ORDER BY score_date DESC, s.model_version
