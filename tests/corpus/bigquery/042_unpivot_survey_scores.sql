-- Survey wide -> long: one row per respondent per question, for the text analytics pipeline.
SELECT
  response_id,
  survey_id,
  submitted_at,
  question,
  score,
  CASE
    WHEN score >= 4 THEN 'positive'
    WHEN score = 3 THEN 'neutral'
    ELSE 'negative'
  END AS sentiment_bucket
FROM (
  SELECT
    response_id,
    survey_id,
    submitted_at,
    q1_ease_of_use,
    q2_value_for_money,
    q3_support_quality,
    q4_reliability,
    q5_likely_to_renew
  FROM surveys.quarterly_pulse
  WHERE submitted_at >= TIMESTAMP '2024-01-01'
)
UNPIVOT INCLUDE NULLS (
  score FOR question IN (
    q1_ease_of_use AS 'ease_of_use',
    q2_value_for_money AS 'value_for_money',
    q3_support_quality AS 'support_quality',
    q4_reliability AS 'reliability',
    q5_likely_to_renew AS 'likely_to_renew'
  )
)
ORDER BY response_id, question
