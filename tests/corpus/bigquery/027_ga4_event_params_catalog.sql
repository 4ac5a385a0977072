-- Catalog of event parameters actually sent per event, with value types seen.
-- Handy for tracking-plan audits.
SELECT
  event_name,
  ep.key AS param_key,
  COUNT(*) AS occurrences,
  COUNTIF(ep.value.string_value IS NOT NULL) AS as_string,
  COUNTIF(ep.value.int_value IS NOT NULL) AS as_int,
  COUNTIF(ep.value.double_value IS NOT NULL) AS as_double,
  COUNTIF(ep.value.float_value IS NOT NULL) AS as_float,
  APPROX_COUNT_DISTINCT(
    COALESCE(
      ep.value.string_value,
      CAST(ep.value.int_value AS STRING),
      CAST(ep.value.double_value AS STRING)
    )
  ) AS approx_distinct_values,
  ARRAY_AGG(DISTINCT ep.value.string_value IGNORE NULLS LIMIT 5) AS sample_string_values,
  MIN(event_date) AS first_seen,
  MAX(event_date) AS last_seen
FROM `analytics_287163540.events_*`,
  UNNEST(event_params) AS ep
WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY))
                        AND FORMAT_DATE('%Y%m%d', CURRENT_DATE())
GROUP BY event_name, param_key
ORDER BY event_name, occurrences DESC
