-- fct_account_feature_usage_weekly
-- Weekly product-usage mart for B2B accounts: seats, activity, feature adoption, integrations,
-- API consumption and collaboration signals. Consumed by CS health scoring and the PLG team.
-- Grain: account_id x iso_week.
-- Notes:
--   * events are deduplicated on event_id (the SDK retries on network errors)
--   * internal/test accounts and our own employees are excluded
--   * "core" features are those listed in the adoption framework (see feature_catalog.is_core)

WITH weeks AS (
  SELECT wk
  FROM UNNEST(GENERATE_DATE_ARRAY(
    DATE_TRUNC(DATE_SUB(CURRENT_DATE(), INTERVAL 26 WEEK), ISOWEEK),
    DATE_TRUNC(DATE_SUB(CURRENT_DATE(), INTERVAL 1 WEEK), ISOWEEK),
    INTERVAL 1 WEEK
  )) AS wk
),

accounts AS (
  SELECT
    account_id,
    plan_tier,
    seats_purchased,
    contract_start_date,
    region
  FROM `saas-core-prod.accounts.accounts`
  WHERE status IN ('customer', 'trial')
    AND NOT is_internal
),

users AS (
  SELECT
    user_id,
    account_id,
    role,
    created_at,
    deactivated_at,
    REGEXP_CONTAINS(email, r'@(ourcompany|ourcompany-staging)\.com$') AS is_employee
  FROM `saas-core-prod.accounts.users`
),

events AS (
  SELECT
    e.event_id,
    e.user_id,
    e.account_id,
    e.event_ts,
    DATE_TRUNC(DATE(e.event_ts), ISOWEEK) AS wk,
    e.event_name,
    e.feature_key,
    e.client,                               -- 'web' | 'desktop' | 'ios' | 'android' | 'api'
    JSON_VALUE(e.properties, '$.object_type') AS object_type,
    SAFE_CAST(JSON_VALUE(e.properties, '$.collaborators') AS INT64) AS collaborators
  FROM `saas-core-prod.product.events` AS e
  WHERE e.event_ts >= TIMESTAMP(DATE_TRUNC(DATE_SUB(CURRENT_DATE(), INTERVAL 26 WEEK), ISOWEEK))
    AND e.event_ts < TIMESTAMP(DATE_TRUNC(CURRENT_DATE(), ISOWEEK))
  QUALIFY ROW_NUMBER() OVER (PARTITION BY e.event_id ORDER BY e.received_at) = 1
),

clean_events AS (
  SELECT ev.*
  FROM events AS ev
  JOIN users AS u USING (user_id)
  WHERE NOT u.is_employee
),

feature_catalog AS (
  SELECT feature_key, feature_area, is_core, is_paid_only
  FROM `saas-core-prod.product.feature_catalog`
),

weekly_activity AS (
  SELECT
    ce.account_id,
    ce.wk,
    COUNT(*) AS events,
    COUNT(DISTINCT ce.user_id) AS wau,
    COUNT(DISTINCT DATE(ce.event_ts)) AS active_days,
    COUNT(DISTINCT IF(ce.client = 'api', NULL, ce.user_id)) AS wau_ui,
    COUNTIF(ce.client = 'api') AS api_events,
    COUNT(DISTINCT IF(ce.client IN ('ios', 'android'), ce.user_id, NULL)) AS mobile_users,
    COUNT(DISTINCT IF(ce.client = 'desktop', ce.user_id, NULL)) AS desktop_users,
    COUNT(DISTINCT ce.feature_key) AS distinct_features,
    COUNTIF(ce.event_name = 'object_created') AS objects_created,
    COUNTIF(ce.event_name = 'object_shared') AS objects_shared,
    COUNTIF(ce.event_name = 'comment_added') AS comments,
    COUNTIF(ce.event_name = 'mention_added') AS mentions,
    MAX(ce.collaborators) AS max_collaborators_on_object,
    COUNTIF(ce.event_name = 'export_completed') AS exports,
    COUNTIF(ce.event_name = 'automation_run') AS automation_runs,
    COUNTIF(ce.event_name = 'integration_sync') AS integration_syncs
  FROM clean_events AS ce
  GROUP BY ce.account_id, ce.wk
),

feature_adoption AS (
  SELECT
    ce.account_id,
    ce.wk,
    COUNT(DISTINCT IF(fc.is_core, ce.feature_key, NULL)) AS core_features_used,
    COUNT(DISTINCT IF(fc.is_paid_only, ce.feature_key, NULL)) AS paid_features_used,
    ARRAY_AGG(DISTINCT fc.feature_area IGNORE NULLS ORDER BY fc.feature_area) AS feature_areas,
    APPROX_TOP_COUNT(ce.feature_key, 5) AS top_features
  FROM clean_events AS ce
  LEFT JOIN feature_catalog AS fc USING (feature_key)
  GROUP BY ce.account_id, ce.wk
),

core_total AS (
  SELECT COUNTIF(is_core) AS core_features_total FROM feature_catalog
),

seats AS (
  SELECT
    a.account_id,
    w.wk,
    COUNTIF(u.created_at < TIMESTAMP(DATE_ADD(w.wk, INTERVAL 7 DAY))
            AND (u.deactivated_at IS NULL OR u.deactivated_at >= TIMESTAMP(DATE_ADD(w.wk, INTERVAL 7 DAY)))
            AND NOT u.is_employee) AS seats_assigned,
    COUNTIF(u.created_at >= TIMESTAMP(w.wk) AND u.created_at < TIMESTAMP(DATE_ADD(w.wk, INTERVAL 7 DAY))) AS seats_added,
    COUNTIF(u.deactivated_at >= TIMESTAMP(w.wk) AND u.deactivated_at < TIMESTAMP(DATE_ADD(w.wk, INTERVAL 7 DAY))) AS seats_removed,
    COUNTIF(u.role = 'admin' AND u.deactivated_at IS NULL) AS admins
  FROM accounts AS a
  CROSS JOIN weeks AS w
  LEFT JOIN users AS u
    ON u.account_id = a.account_id
  GROUP BY a.account_id, w.wk
),

integrations AS (
  SELECT
    account_id,
    w.wk,
    COUNT(DISTINCT IF(i.connected_at < TIMESTAMP(DATE_ADD(w.wk, INTERVAL 7 DAY))
                      AND (i.disconnected_at IS NULL OR i.disconnected_at >= TIMESTAMP(DATE_ADD(w.wk, INTERVAL 7 DAY))),
                      i.provider, NULL)) AS active_integrations
  FROM `saas-core-prod.product.integrations` AS i
  CROSS JOIN weeks AS w
  GROUP BY account_id, w.wk
),

grid AS (
  SELECT a.*, w.wk
  FROM accounts AS a
  CROSS JOIN weeks AS w
  WHERE w.wk >= DATE_TRUNC(a.contract_start_date, ISOWEEK)
)

SELECT
  g.account_id,
  g.wk AS iso_week_start,
  FORMAT_DATE('%G-W%V', g.wk) AS iso_week,
  g.plan_tier,
  g.region,
  g.seats_purchased,
  s.seats_assigned,
  s.seats_added,
  s.seats_removed,
  s.admins,
  IFNULL(wa.wau, 0) AS wau,
  IFNULL(wa.wau_ui, 0) AS wau_ui,
  ROUND(SAFE_DIVIDE(wa.wau, s.seats_assigned), 4) AS seat_activation_rate,
  ROUND(SAFE_DIVIDE(s.seats_assigned, g.seats_purchased), 4) AS seat_assignment_rate,
  IFNULL(wa.active_days, 0) AS active_days,
  IFNULL(wa.events, 0) AS events,
  IFNULL(wa.api_events, 0) AS api_events,
  IFNULL(wa.mobile_users, 0) AS mobile_users,
  IFNULL(wa.desktop_users, 0) AS desktop_users,
  IFNULL(wa.distinct_features, 0) AS distinct_features,
  IFNULL(fa.core_features_used, 0) AS core_features_used,
  ROUND(SAFE_DIVIDE(fa.core_features_used, ct.core_features_total), 4) AS core_feature_adoption,
  IFNULL(fa.paid_features_used, 0) AS paid_features_used,
  fa.feature_areas,
  fa.top_features,
  IFNULL(wa.objects_created, 0) AS objects_created,
  IFNULL(wa.objects_shared, 0) AS objects_shared,
  IFNULL(wa.comments, 0) AS comments,
  IFNULL(wa.mentions, 0) AS mentions,
  wa.max_collaborators_on_object,
  IFNULL(wa.exports, 0) AS exports,
  IFNULL(wa.automation_runs, 0) AS automation_runs,
  IFNULL(wa.integration_syncs, 0) AS integration_syncs,
  IFNULL(i.active_integrations, 0) AS active_integrations,
  -- trends
  IFNULL(wa.wau, 0) - LAG(IFNULL(wa.wau, 0)) OVER acct AS wau_wow_delta,
  AVG(IFNULL(wa.wau, 0)) OVER (acct ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS wau_4w_avg,
  AVG(IFNULL(wa.wau, 0)) OVER (acct ROWS BETWEEN 7 PRECEDING AND 4 PRECEDING) AS wau_prior_4w_avg,
  SAFE_DIVIDE(
    AVG(IFNULL(wa.wau, 0)) OVER (acct ROWS BETWEEN 3 PRECEDING AND CURRENT ROW),
    AVG(IFNULL(wa.wau, 0)) OVER (acct ROWS BETWEEN 7 PRECEDING AND 4 PRECEDING)
  ) - 1 AS wau_4w_trend,
  COUNTIF(IFNULL(wa.wau, 0) > 0) OVER (acct ROWS BETWEEN 11 PRECEDING AND CURRENT ROW) AS active_weeks_last_12,
  CASE
    WHEN IFNULL(wa.wau, 0) = 0 THEN 'dormant'
    WHEN SAFE_DIVIDE(wa.wau, s.seats_assigned) >= 0.6 AND fa.core_features_used >= 5 THEN 'power'
    WHEN SAFE_DIVIDE(wa.wau, s.seats_assigned) >= 0.3 THEN 'engaged'
    ELSE 'light'
  END AS usage_segment
FROM grid AS g
CROSS JOIN core_total AS ct
LEFT JOIN seats AS s USING (account_id, wk)
LEFT JOIN weekly_activity AS wa USING (account_id, wk)
LEFT JOIN feature_adoption AS fa USING (account_id, wk)
LEFT JOIN integrations AS i USING (account_id, wk)
WINDOW acct AS (PARTITION BY g.account_id ORDER BY g.wk)
