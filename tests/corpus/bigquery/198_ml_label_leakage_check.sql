-- Leakage audit: features whose values change after the label timestamp (should never happen).
-- Any non-zero leakage here blocks the weekly retraining job.
-- source_max_event_ts is written by the feature pipeline for every feature value.
-- Runs after the feature backfill, before training.
SELECT
  feature_name,
  COUNT(*) AS rows_checked,
  COUNTIF(f.feature_computed_at > l.label_observed_at) AS computed_after_label,
  COUNTIF(f.source_max_event_ts > f.snapshot_ts) AS source_after_snapshot,
  ROUND(SAFE_DIVIDE(COUNTIF(f.source_max_event_ts > f.snapshot_ts), COUNT(*)), 6) AS leakage_rate,
  ARRAY_AGG(IF(f.source_max_event_ts > f.snapshot_ts, f.entity_id, NULL) IGNORE NULLS LIMIT 5) AS example_entities
FROM `ml-platform.feature_store.feature_values_audit` AS f
JOIN `ml-platform.feature_store.labels` AS l
  ON l.entity_id = f.entity_id
 AND l.snapshot_ts = f.snapshot_ts
WHERE f.snapshot_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
  AND f.feature_view = 'churn_features_v3'
GROUP BY feature_name
HAVING source_after_snapshot > 0 OR computed_after_label > 0
ORDER BY leakage_rate DESC
