-- ROAS by campaign: Google Ads transfer spend joined to GA4 purchase revenue.
WITH spend AS (
  SELECT
    s.segments_date AS d,
    c.campaign_id,
    c.campaign_name,
    SUM(s.metrics_cost_micros) / 1e6 AS cost,
    SUM(s.metrics_impressions) AS impressions,
    SUM(s.metrics_clicks) AS clicks
  FROM `acme-ads.google_ads.p_ads_CampaignBasicStats_4817263519` AS s
  JOIN `acme-ads.google_ads.p_ads_Campaign_4817263519` AS c
    ON c.campaign_id = s.campaign_id
   AND c._DATA_DATE = c._LATEST_DATE
  WHERE s.segments_date BETWEEN DATE '2024-04-01' AND DATE '2024-06-30'
  GROUP BY 1, 2, 3
),
revenue AS (
  SELECT
    PARSE_DATE('%Y%m%d', event_date) AS d,
    collected_traffic_source.manual_campaign_name AS campaign_name,
    COUNT(DISTINCT ecommerce.transaction_id) AS orders,
    SUM(ecommerce.purchase_revenue_in_usd) AS revenue
  FROM `acme-web-prod.analytics_287163540.events_*`
  WHERE _TABLE_SUFFIX BETWEEN '20240401' AND '20240630'
    AND event_name = 'purchase'
    AND collected_traffic_source.gclid IS NOT NULL
  GROUP BY 1, 2
)
SELECT
  s.campaign_id,
  s.campaign_name,
  SUM(s.cost) AS cost,
  SUM(s.impressions) AS impressions,
  SUM(s.clicks) AS clicks,
  SAFE_DIVIDE(SUM(s.clicks), SUM(s.impressions)) AS ctr,
  SAFE_DIVIDE(SUM(s.cost), SUM(s.clicks)) AS cpc,
  SUM(r.orders) AS orders,
  SUM(r.revenue) AS revenue,
  SAFE_DIVIDE(SUM(r.revenue), SUM(s.cost)) AS roas,
  SAFE_DIVIDE(SUM(s.cost), SUM(r.orders)) AS cpa
FROM spend AS s
LEFT JOIN revenue AS r
  ON r.d = s.d
 AND r.campaign_name = s.campaign_name
GROUP BY s.campaign_id, s.campaign_name
ORDER BY cost DESC
