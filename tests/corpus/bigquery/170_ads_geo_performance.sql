-- Meta ads: performance by region with actions unnested from the insights "actions" array.
SELECT
  i.date_start,
  i.campaign_name,
  i.region,
  SUM(i.impressions) AS impressions,
  SUM(i.clicks) AS clicks,
  ROUND(SUM(i.spend), 2) AS spend,
  SUM((SELECT SUM(CAST(a.value AS FLOAT64)) FROM UNNEST(i.actions) AS a WHERE a.action_type = 'offsite_conversion.fb_pixel_purchase')) AS purchases,
  SUM((SELECT SUM(CAST(a.value AS FLOAT64)) FROM UNNEST(i.action_values) AS a WHERE a.action_type = 'offsite_conversion.fb_pixel_purchase')) AS purchase_value,
  SUM((SELECT SUM(CAST(a.value AS FLOAT64)) FROM UNNEST(i.actions) AS a WHERE a.action_type = 'landing_page_view')) AS landing_page_views,
  ROUND(SAFE_DIVIDE(
    SUM((SELECT SUM(CAST(a.value AS FLOAT64)) FROM UNNEST(i.action_values) AS a WHERE a.action_type = 'offsite_conversion.fb_pixel_purchase')),
    SUM(i.spend)
  ), 3) AS roas
FROM `acme-ads.facebook_ads.ads_insights_region` AS i
WHERE i.date_start BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
GROUP BY i.date_start, i.campaign_name, i.region
HAVING spend > 0
ORDER BY i.date_start DESC, spend DESC
