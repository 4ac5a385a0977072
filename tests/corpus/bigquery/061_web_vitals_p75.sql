-- Core Web Vitals (p75) per page template from the GA4 web-vitals events.
WITH vitals AS (
  SELECT
    event_name AS metric_name,
    (SELECT value.double_value FROM UNNEST(event_params) WHERE key = 'metric_value') AS metric_value,
    (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'metric_rating') AS metric_rating,
    REGEXP_REPLACE(
      REGEXP_EXTRACT((SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location'), r'https?://[^/]+([^?#]*)'),
      r'/\d+(/|$)', r'/:id\1'
    ) AS page_template,
    device.category AS device_category
  FROM `acme-web-prod.analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 28 DAY))
                          AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
    AND event_name IN ('LCP', 'INP', 'CLS', 'FCP', 'TTFB')
)
SELECT
  page_template,
  device_category,
  metric_name,
  COUNT(*) AS samples,
  APPROX_QUANTILES(metric_value, 100)[OFFSET(75)] AS p75,
  ROUND(COUNTIF(metric_rating = 'good') / COUNT(*), 3) AS good_share,
  ROUND(COUNTIF(metric_rating = 'poor') / COUNT(*), 3) AS poor_share
FROM vitals
WHERE metric_value IS NOT NULL
GROUP BY page_template, device_category, metric_name
HAVING samples >= 200
ORDER BY page_template, device_category, metric_name
