-- Cross-domain tracking QA: sessions that hop from the shop to the checkout domain
-- and whether the session id survives the hop.
WITH pv AS (
  SELECT
    user_pseudo_id,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id,
    event_timestamp,
    NET.REG_DOMAIN((SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location')) AS reg_domain,
    NET.HOST((SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_referrer')) AS referrer_host
  FROM `acme-web-prod.analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))
    AND event_name = 'page_view'
)
SELECT
  reg_domain,
  referrer_host,
  COUNT(*) AS pageviews,
  COUNTIF(prev_domain IS NULL) AS session_entrances,
  COUNTIF(prev_domain IS NULL AND referrer_host LIKE '%acme-shop.com') AS broken_handoffs,
  ROUND(SAFE_DIVIDE(COUNTIF(prev_domain IS NULL AND referrer_host LIKE '%acme-shop.com'),
                    COUNTIF(referrer_host LIKE '%acme-shop.com')), 4) AS broken_handoff_rate
FROM (
  SELECT
    *,
    LAG(reg_domain) OVER (PARTITION BY user_pseudo_id, session_id ORDER BY event_timestamp) AS prev_domain
  FROM pv
)
WHERE reg_domain = 'acme-checkout.com'
GROUP BY reg_domain, referrer_host
ORDER BY pageviews DESC
