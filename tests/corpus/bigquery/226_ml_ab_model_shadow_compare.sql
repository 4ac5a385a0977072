-- Shadow-mode comparison of two ranking models: agreement at top-k and score correlation.
-- Shadow model runs on every request but its ranking is never shown.
-- Overlap@10 = |top10(prod) ∩ top10(shadow)| / 10.
SELECT
  DATE(r.request_ts) AS request_date,
  COUNT(*) AS requests,
  AVG((
    SELECT COUNT(*)
    FROM UNNEST(ARRAY(SELECT item_id FROM UNNEST(r.prod_ranking) AS item_id WITH OFFSET AS o WHERE o < 10)) AS a
    WHERE a IN UNNEST(ARRAY(SELECT item_id FROM UNNEST(r.shadow_ranking) AS item_id WITH OFFSET AS o WHERE o < 10))
  ) / 10) AS avg_overlap_at_10,
  AVG(IF(r.prod_ranking[SAFE_OFFSET(0)] = r.shadow_ranking[SAFE_OFFSET(0)], 1, 0)) AS top1_agreement,
  CORR(r.prod_top_score, r.shadow_top_score) AS top_score_correlation,
  APPROX_QUANTILES(r.shadow_latency_ms - r.prod_latency_ms, 100)[OFFSET(50)] AS p50_latency_delta_ms
FROM `shop-ml.reco_logs.shadow_rankings` AS r
WHERE r.request_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
  AND ARRAY_LENGTH(r.prod_ranking) >= 10
  AND ARRAY_LENGTH(r.shadow_ranking) >= 10
GROUP BY request_date
ORDER BY request_date
