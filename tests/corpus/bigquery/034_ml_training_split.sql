-- Deterministic train/validation/test split using FARM_FINGERPRINT on the entity id.
-- Splitting on customer_id (not on row) keeps all snapshots of a customer in one split,
-- which avoids leakage between train and evaluation sets.
-- 80 / 10 / 10 split; the salt changes only when we intentionally reshuffle.
SELECT
  * EXCEPT (raw_payload, _ingested_at),
  CASE
    WHEN MOD(ABS(FARM_FINGERPRINT(CONCAT('split-v2:', CAST(customer_id AS STRING)))), 100) < 80 THEN 'train'
    WHEN MOD(ABS(FARM_FINGERPRINT(CONCAT('split-v2:', CAST(customer_id AS STRING)))), 100) < 90 THEN 'validation'
    ELSE 'test'
  END AS data_split,
  -- a second, independent hash for down-sampling negatives during training
  MOD(ABS(FARM_FINGERPRINT(CONCAT('neg-sample:', CAST(customer_id AS STRING), ':', CAST(snapshot_date AS STRING)))), 1000) AS sample_bucket
FROM `ml-platform.features.churn_features_v3`
WHERE snapshot_date BETWEEN DATE '2023-01-01' AND DATE '2024-03-31'
  AND label IS NOT NULL
  AND days_since_signup >= 14
  -- exclude accounts flagged as test / internal
  AND customer_id NOT IN (
    SELECT customer_id FROM `ml-platform.reference.excluded_customers`
  )
