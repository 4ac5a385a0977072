-- Share of events without analytics consent (cookieless pings) by country and day,
-- used to size the gap covered by behavioural modelling.
SELECT
  PARSE_DATE('%Y%m%d', event_date) AS event_date,
  geo.country AS country,
  COUNT(*) AS events,
  COUNTIF(privacy_info.analytics_storage = 'No') AS events_no_analytics_consent,
  COUNTIF(privacy_info.ads_storage = 'No') AS events_no_ads_consent,
  COUNTIF(user_pseudo_id IS NULL) AS cookieless_pings,
  COUNT(DISTINCT user_pseudo_id) AS consented_users,
  ROUND(SAFE_DIVIDE(COUNTIF(privacy_info.analytics_storage = 'No'), COUNT(*)), 4) AS no_consent_share,
  ROUND(SAFE_DIVIDE(
    COUNTIF(event_name = 'purchase' AND privacy_info.analytics_storage = 'No'),
    COUNTIF(event_name = 'purchase')
  ), 4) AS purchases_no_consent_share
FROM `acme-web-prod.analytics_287163540.events_*`
WHERE _TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY))
                        AND FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
GROUP BY event_date, country
HAVING events > 1000
ORDER BY event_date DESC, no_consent_share DESC
