-- Assignment audit: deterministic bucketing check (hash mod 1000) vs logged variant.
-- The assignment service buckets users with FARM_FINGERPRINT(salt:user_id) mod 1000.
-- Any mismatch means the SDK and the service disagree (cache bug or salt drift).
SELECT
  experiment_key,
  variant,
  COUNT(*) AS users,
  COUNTIF(
    (variant = 'control' AND MOD(ABS(FARM_FINGERPRINT(CONCAT(experiment_salt, ':', user_id))), 1000) >= 500)
    OR (variant = 'treatment' AND MOD(ABS(FARM_FINGERPRINT(CONCAT(experiment_salt, ':', user_id))), 1000) < 500)
  ) AS mismatched_bucket,
  MIN(assigned_at) AS first_assignment,
  MAX(assigned_at) AS last_assignment,
  COUNT(DISTINCT platform) AS platforms
FROM experimentation.assignments AS a
JOIN experimentation.experiments AS e USING (experiment_key)
WHERE e.status = 'running'
  AND e.allocation_type = 'hash_50_50'
GROUP BY experiment_key, variant
ORDER BY experiment_key, variant
