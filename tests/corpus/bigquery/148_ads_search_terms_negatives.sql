-- Candidate negative keywords: search terms with spend but no conversions over 60 days.
SELECT
  st.campaign_id,
  c.campaign_name,
  st.search_term_view_search_term AS search_term,
  SUM(st.metrics_impressions) AS impressions,
  SUM(st.metrics_clicks) AS clicks,
  ROUND(SUM(st.metrics_cost_micros) / 1e6, 2) AS cost,
  SUM(st.metrics_conversions) AS conversions,
  ROUND(SAFE_DIVIDE(SUM(st.metrics_clicks), SUM(st.metrics_impressions)) * 100, 2) AS ctr_pct,
  ARRAY_AGG(DISTINCT st.segments_search_term_match_type IGNORE NULLS) AS match_types
FROM `acme-ads.google_ads.p_ads_SearchQueryStats_4817263519` AS st
JOIN `acme-ads.google_ads.p_ads_Campaign_4817263519` AS c
  ON c.campaign_id = st.campaign_id
 AND c._DATA_DATE = c._LATEST_DATE
WHERE st._DATA_DATE BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 60 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  AND c.campaign_advertising_channel_type = 'SEARCH'
GROUP BY st.campaign_id, c.campaign_name, search_term
HAVING cost >= 50 AND conversions = 0
ORDER BY cost DESC
