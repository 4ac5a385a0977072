-- NPS verbatims: keyword themes via regex, split by promoter/passive/detractor.
SELECT
  CASE WHEN score >= 9 THEN 'promoter' WHEN score >= 7 THEN 'passive' ELSE 'detractor' END AS segment,
  t.theme,
  COUNT(*) AS mentions,
  ROUND(AVG(score), 2) AS avg_score,
  ARRAY_AGG(SUBSTR(comment, 1, 200) ORDER BY responded_at DESC LIMIT 3) AS recent_examples
FROM surveys.nps_responses,
  UNNEST([
    STRUCT('pricing' AS theme, r'(?i)\b(price|expensive|cost|cheap)' AS pattern),
    STRUCT('delivery', r'(?i)\b(deliver|shipping|late|courier)'),
    STRUCT('support', r'(?i)\b(support|agent|help|service)'),
    STRUCT('quality', r'(?i)\b(quality|broken|defect|durable)'),
    STRUCT('app', r'(?i)\b(app|website|checkout|login)')
  ]) AS t
WHERE responded_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
  AND comment IS NOT NULL
  AND REGEXP_CONTAINS(comment, t.pattern)
GROUP BY segment, t.theme
ORDER BY segment, mentions DESC
