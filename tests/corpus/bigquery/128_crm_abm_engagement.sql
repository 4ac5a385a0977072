-- Account-based marketing: weekly engagement score per target account from web, email, ads and events.
WITH signals AS (
  SELECT account_id, DATE_TRUNC(DATE(ts), WEEK) AS wk, 'web_visit' AS kind, 1 AS pts
  FROM `revops-prod.marketing.identified_web_visits`
  UNION ALL
  SELECT account_id, DATE_TRUNC(DATE(ts), WEEK), 'pricing_page', 5
  FROM `revops-prod.marketing.identified_web_visits`
  WHERE REGEXP_CONTAINS(page_path, r'^/pricing')
  UNION ALL
  SELECT account_id, DATE_TRUNC(DATE(event_ts), WEEK), 'email_click', 3
  FROM `revops-prod.esp.email_events_by_account`
  WHERE event_type = 'click'
  UNION ALL
  SELECT account_id, DATE_TRUNC(DATE(engaged_at), WEEK), 'ad_engagement', 2
  FROM `revops-prod.ads.linkedin_company_engagement`
  UNION ALL
  SELECT account_id, DATE_TRUNC(DATE(attended_at), WEEK), 'webinar_attended', 10
  FROM `revops-prod.events.webinar_attendance`
)
SELECT
  s.account_id,
  a.Name AS account_name,
  s.wk,
  SUM(s.pts) AS score,
  COUNTIF(s.kind = 'pricing_page') AS pricing_views,
  ARRAY_AGG(DISTINCT s.kind ORDER BY s.kind) AS signal_kinds,
  SUM(SUM(s.pts)) OVER (PARTITION BY s.account_id ORDER BY s.wk ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS score_4w
FROM signals AS s
JOIN `revops-prod.salesforce.Account` AS a
  ON a.Id = s.account_id
WHERE a.Target_Account__c
  AND s.wk >= DATE_SUB(CURRENT_DATE(), INTERVAL 26 WEEK)
GROUP BY s.account_id, a.Name, s.wk
ORDER BY s.wk DESC, score DESC
