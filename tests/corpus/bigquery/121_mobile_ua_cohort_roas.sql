-- Mobile user acquisition: install cohorts with D0/D7/D30/D90 revenue and ROAS by media source.
-- Attribution from the MMP raw data export; revenue = IAP (net of store fee) + ad revenue (ILRD).
-- Cohorts younger than the horizon report NULL for that horizon.

WITH installs AS (
  SELECT
    appsflyer_id,
    customer_user_id,
    app_id,
    platform,
    install_time,
    DATE(install_time) AS install_date,
    IFNULL(media_source, 'organic') AS media_source,
    campaign,
    campaign_id,
    adset,
    country_code,
    is_retargeting,
    attributed_touch_type
  FROM `mobile-ua-prod.appsflyer.installs_report`
  WHERE DATE(install_time) BETWEEN DATE '2024-01-01' AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND NOT is_retargeting
  QUALIFY ROW_NUMBER() OVER (PARTITION BY appsflyer_id, app_id ORDER BY install_time) = 1
),

iap AS (
  SELECT
    appsflyer_id,
    app_id,
    event_time,
    SAFE_CAST(event_revenue_usd AS FLOAT64) * IF(platform = 'ios', 0.70, 0.85) AS net_revenue_usd,
    JSON_VALUE(event_value, '$.af_content_id') AS product_id
  FROM `mobile-ua-prod.appsflyer.in_app_events_report`
  WHERE event_name = 'af_purchase'
    AND DATE(event_time) >= DATE '2024-01-01'
    AND IFNULL(JSON_VALUE(event_value, '$.is_sandbox'), 'false') != 'true'
),

ad_revenue AS (
  SELECT
    appsflyer_id,
    app_id,
    event_time,
    SAFE_CAST(event_revenue_usd AS FLOAT64) AS ad_revenue_usd,
    JSON_VALUE(event_value, '$.ad_unit') AS ad_unit,
    JSON_VALUE(event_value, '$.mediation_network') AS mediation_network
  FROM `mobile-ua-prod.appsflyer.ad_revenue_raw`
  WHERE DATE(event_time) >= DATE '2024-01-01'
),

revenue_events AS (
  SELECT appsflyer_id, app_id, event_time, net_revenue_usd AS revenue_usd, 'iap' AS revenue_type FROM iap
  UNION ALL
  SELECT appsflyer_id, app_id, event_time, ad_revenue_usd, 'ads' FROM ad_revenue
),

user_revenue AS (
  SELECT
    i.appsflyer_id,
    i.app_id,
    SUM(IF(TIMESTAMP_DIFF(r.event_time, i.install_time, HOUR) < 24, r.revenue_usd, 0)) AS rev_d0,
    SUM(IF(TIMESTAMP_DIFF(r.event_time, i.install_time, HOUR) < 24 * 7, r.revenue_usd, 0)) AS rev_d7,
    SUM(IF(TIMESTAMP_DIFF(r.event_time, i.install_time, HOUR) < 24 * 30, r.revenue_usd, 0)) AS rev_d30,
    SUM(IF(TIMESTAMP_DIFF(r.event_time, i.install_time, HOUR) < 24 * 90, r.revenue_usd, 0)) AS rev_d90,
    SUM(IF(TIMESTAMP_DIFF(r.event_time, i.install_time, HOUR) < 24 * 7 AND r.revenue_type = 'iap', r.revenue_usd, 0)) AS iap_d7,
    SUM(IF(TIMESTAMP_DIFF(r.event_time, i.install_time, HOUR) < 24 * 7 AND r.revenue_type = 'ads', r.revenue_usd, 0)) AS ads_d7,
    LOGICAL_OR(r.revenue_type = 'iap' AND TIMESTAMP_DIFF(r.event_time, i.install_time, HOUR) < 24 * 7) AS payer_d7
  FROM installs AS i
  JOIN revenue_events AS r
    ON r.appsflyer_id = i.appsflyer_id
   AND r.app_id = i.app_id
   AND r.event_time >= i.install_time
  GROUP BY i.appsflyer_id, i.app_id
),

retention AS (
  SELECT
    i.appsflyer_id,
    i.app_id,
    LOGICAL_OR(DATE_DIFF(s.session_date, i.install_date, DAY) = 1) AS retained_d1,
    LOGICAL_OR(DATE_DIFF(s.session_date, i.install_date, DAY) = 7) AS retained_d7,
    LOGICAL_OR(DATE_DIFF(s.session_date, i.install_date, DAY) = 30) AS retained_d30
  FROM installs AS i
  JOIN `mobile-ua-prod.appsflyer.sessions_daily` AS s
    ON s.appsflyer_id = i.appsflyer_id
   AND s.app_id = i.app_id
   AND s.session_date BETWEEN DATE_ADD(i.install_date, INTERVAL 1 DAY) AND DATE_ADD(i.install_date, INTERVAL 30 DAY)
  GROUP BY i.appsflyer_id, i.app_id
),

spend AS (
  SELECT
    spend_date AS install_date,
    app_id,
    media_source,
    campaign_id,
    SUM(cost_usd) AS cost_usd,
    SUM(impressions) AS impressions,
    SUM(clicks) AS clicks
  FROM `mobile-ua-prod.marts.ua_spend_daily`
  WHERE spend_date >= DATE '2024-01-01'
  GROUP BY 1, 2, 3, 4
),

cohorts AS (
  SELECT
    i.install_date,
    i.app_id,
    i.platform,
    i.media_source,
    i.campaign_id,
    ANY_VALUE(i.campaign) AS campaign,
    COUNT(*) AS installs,
    COUNTIF(i.attributed_touch_type = 'click') AS click_installs,
    COUNTIF(i.attributed_touch_type = 'impression') AS view_installs,
    SUM(IFNULL(ur.rev_d0, 0)) AS rev_d0,
    SUM(IFNULL(ur.rev_d7, 0)) AS rev_d7,
    SUM(IFNULL(ur.rev_d30, 0)) AS rev_d30,
    SUM(IFNULL(ur.rev_d90, 0)) AS rev_d90,
    SUM(IFNULL(ur.iap_d7, 0)) AS iap_d7,
    SUM(IFNULL(ur.ads_d7, 0)) AS ads_d7,
    COUNTIF(ur.payer_d7) AS payers_d7,
    COUNTIF(rt.retained_d1) AS retained_d1,
    COUNTIF(rt.retained_d7) AS retained_d7,
    COUNTIF(rt.retained_d30) AS retained_d30
  FROM installs AS i
  LEFT JOIN user_revenue AS ur USING (appsflyer_id, app_id)
  LEFT JOIN retention AS rt USING (appsflyer_id, app_id)
  GROUP BY i.install_date, i.app_id, i.platform, i.media_source, i.campaign_id
)

SELECT
  c.install_date,
  DATE_TRUNC(c.install_date, WEEK(MONDAY)) AS install_week,
  c.app_id,
  c.platform,
  c.media_source,
  c.campaign_id,
  c.campaign,
  c.installs,
  c.click_installs,
  c.view_installs,
  s.cost_usd,
  s.impressions,
  s.clicks,
  ROUND(SAFE_DIVIDE(s.cost_usd, c.installs), 3) AS cpi,
  ROUND(SAFE_DIVIDE(c.installs, s.clicks), 4) AS click_to_install,
  ROUND(c.rev_d0, 2) AS rev_d0,
  ROUND(c.rev_d7, 2) AS rev_d7,
  IF(DATE_DIFF(CURRENT_DATE(), c.install_date, DAY) > 30, ROUND(c.rev_d30, 2), NULL) AS rev_d30,
  IF(DATE_DIFF(CURRENT_DATE(), c.install_date, DAY) > 90, ROUND(c.rev_d90, 2), NULL) AS rev_d90,
  ROUND(SAFE_DIVIDE(c.iap_d7, c.rev_d7), 3) AS iap_share_d7,
  ROUND(SAFE_DIVIDE(c.rev_d0, s.cost_usd), 4) AS roas_d0,
  ROUND(SAFE_DIVIDE(c.rev_d7, s.cost_usd), 4) AS roas_d7,
  IF(DATE_DIFF(CURRENT_DATE(), c.install_date, DAY) > 30, ROUND(SAFE_DIVIDE(c.rev_d30, s.cost_usd), 4), NULL) AS roas_d30,
  IF(DATE_DIFF(CURRENT_DATE(), c.install_date, DAY) > 90, ROUND(SAFE_DIVIDE(c.rev_d90, s.cost_usd), 4), NULL) AS roas_d90,
  ROUND(SAFE_DIVIDE(c.payers_d7, c.installs), 4) AS payer_rate_d7,
  ROUND(SAFE_DIVIDE(c.retained_d1, c.installs), 4) AS retention_d1,
  ROUND(SAFE_DIVIDE(c.retained_d7, c.installs), 4) AS retention_d7,
  IF(DATE_DIFF(CURRENT_DATE(), c.install_date, DAY) > 30, ROUND(SAFE_DIVIDE(c.retained_d30, c.installs), 4), NULL) AS retention_d30,
  -- simple D90 projection from D7 using the trailing 8-week media-source multiplier
  ROUND(c.rev_d7 * SAFE_DIVIDE(
    SUM(IF(DATE_DIFF(CURRENT_DATE(), c.install_date, DAY) > 90, c.rev_d90, 0)) OVER ms,
    SUM(IF(DATE_DIFF(CURRENT_DATE(), c.install_date, DAY) > 90, c.rev_d7, 0)) OVER ms
  ), 2) AS projected_rev_d90
FROM cohorts AS c
LEFT JOIN spend AS s
  ON s.install_date = c.install_date
 AND s.app_id = c.app_id
 AND s.media_source = c.media_source
 AND s.campaign_id = c.campaign_id
WINDOW ms AS (
  PARTITION BY c.app_id, c.media_source
  ORDER BY UNIX_DATE(c.install_date)
  RANGE BETWEEN 146 PRECEDING AND 91 PRECEDING
)
