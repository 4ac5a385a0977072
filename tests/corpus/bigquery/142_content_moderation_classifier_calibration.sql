-- Classifier calibration: predicted score decile vs observed violation rate from human review.
-- A well-calibrated classifier has mean_score close to observed precision in each bucket.
-- Only flags that went to human review count toward precision.
-- Buckets are 0.1 wide.
-- Used for threshold tuning every sprint.
-- Last 30 days of flags.
SELECT
  f.model_name,
  f.predicted_policy,
  CAST(FLOOR(f.score * 10) AS INT64) / 10 AS score_bucket,
  COUNT(*) AS flagged,
  COUNTIF(d.decision IS NOT NULL) AS reviewed,
  ROUND(SAFE_DIVIDE(COUNTIF(d.decision = 'violating'), COUNTIF(d.decision IS NOT NULL)), 4) AS observed_precision,
  ROUND(AVG(f.score), 4) AS mean_score,
  ROUND(AVG(f.score) - SAFE_DIVIDE(COUNTIF(d.decision = 'violating'), COUNTIF(d.decision IS NOT NULL)), 4) AS calibration_gap
FROM classifiers.auto_flags AS f
LEFT JOIN moderation.decisions AS d
  ON d.report_id = f.flag_id
WHERE f.flagged_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
