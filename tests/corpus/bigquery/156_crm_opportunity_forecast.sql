-- Sales forecast roll-up: commit / best case / pipeline per rep and quarter,
-- plus historical win rates by stage used for a weighted forecast and coverage ratios.

WITH quarters AS (
  SELECT
    DATE_TRUNC(CURRENT_DATE(), QUARTER) AS q_start,
    LAST_DAY(CURRENT_DATE(), QUARTER) AS q_end
),

opps AS (
  SELECT
    o.Id AS opportunity_id,
    o.OwnerId AS owner_id,
    o.AccountId AS account_id,
    o.StageName AS stage,
    o.ForecastCategoryName AS forecast_category,
    o.Amount AS amount,
    o.CloseDate AS close_date,
    o.CreatedDate AS created_at,
    o.IsClosed AS is_closed,
    o.IsWon AS is_won,
    o.Type AS opp_type,
    o.LeadSource AS lead_source,
    o.LastActivityDate AS last_activity_date,
    o.Next_Step__c AS next_step,
    o.Competitor__c AS competitor
  FROM `revops-prod.salesforce.Opportunity` AS o
  WHERE NOT o.IsDeleted
    AND o.Amount IS NOT NULL
),

stage_history AS (
  SELECT
    h.OpportunityId AS opportunity_id,
    h.StageName AS stage,
    h.CreatedDate AS entered_at
  FROM `revops-prod.salesforce.OpportunityHistory` AS h
),

-- historical conversion: for opportunities that reached a stage in the last 4 quarters,
-- what share were eventually won
historical AS (
  SELECT
    sh.stage,
    COUNT(DISTINCT sh.opportunity_id) AS reached,
    COUNT(DISTINCT IF(o.is_won, sh.opportunity_id, NULL)) AS won
  FROM stage_history AS sh
  JOIN opps AS o USING (opportunity_id)
  CROSS JOIN quarters AS q
  WHERE o.is_closed
    AND o.close_date BETWEEN DATE_SUB(q.q_start, INTERVAL 4 QUARTER) AND DATE_SUB(q.q_start, INTERVAL 1 DAY)
  GROUP BY sh.stage
),

stage_win_rates AS (
  SELECT stage, SAFE_DIVIDE(won, reached) AS win_rate, reached
  FROM historical
  WHERE reached >= 20
),

slipped AS (
  -- how many times the close date was pushed
  SELECT
    OpportunityId AS opportunity_id,
    COUNTIF(Field = 'CloseDate' AND SAFE_CAST(NewValue AS DATE) > SAFE_CAST(OldValue AS DATE)) AS close_date_pushes
  FROM `revops-prod.salesforce.OpportunityFieldHistory`
  GROUP BY 1
),

current_q AS (
  SELECT
    o.*,
    IFNULL(w.win_rate, 0.1) AS stage_win_rate,
    IFNULL(s.close_date_pushes, 0) AS close_date_pushes,
    DATE_DIFF(CURRENT_DATE(), o.last_activity_date, DAY) AS days_since_activity
  FROM opps AS o
  CROSS JOIN quarters AS q
  LEFT JOIN stage_win_rates AS w USING (stage)
  LEFT JOIN slipped AS s USING (opportunity_id)
  WHERE o.close_date BETWEEN q.q_start AND q.q_end
),

quota AS (
  SELECT owner_id, quota_amount
  FROM `revops-prod.planning.rep_quotas`
  WHERE quarter_start = (SELECT q_start FROM quarters)
),

owners AS (
  SELECT Id AS owner_id, Name AS owner_name, Manager_Name__c AS manager_name, Segment__c AS segment
  FROM `revops-prod.salesforce.User`
  WHERE IsActive
),

rollup AS (
  SELECT
    owner_id,
    SUM(IF(is_won, amount, 0)) AS closed_won,
    SUM(IF(NOT is_closed AND forecast_category = 'Commit', amount, 0)) AS commit_open,
    SUM(IF(NOT is_closed AND forecast_category = 'Best Case', amount, 0)) AS best_case_open,
    SUM(IF(NOT is_closed AND forecast_category = 'Pipeline', amount, 0)) AS pipeline_open,
    SUM(IF(NOT is_closed, amount * stage_win_rate, 0)) AS weighted_open,
    COUNTIF(NOT is_closed) AS open_opps,
    COUNTIF(NOT is_closed AND close_date < CURRENT_DATE()) AS past_due_opps,
    COUNTIF(NOT is_closed AND days_since_activity > 14) AS stale_opps,
    COUNTIF(NOT is_closed AND close_date_pushes >= 2) AS repeatedly_slipped_opps,
    SUM(IF(NOT is_closed AND competitor IS NOT NULL, amount, 0)) AS competitive_open_amount,
    ARRAY_AGG(
      IF(NOT is_closed, STRUCT(opportunity_id, stage, amount, close_date, next_step), NULL)
      IGNORE NULLS
      ORDER BY amount DESC
      LIMIT 5
    ) AS top_open_deals
  FROM current_q
  GROUP BY owner_id
)

SELECT
  (SELECT q_start FROM quarters) AS quarter_start,
  o.owner_name,
  o.manager_name,
  o.segment,
  q.quota_amount,
  r.closed_won,
  r.commit_open,
  r.best_case_open,
  r.pipeline_open,
  ROUND(r.weighted_open, 0) AS weighted_open,
  r.closed_won + r.commit_open AS commit_forecast,
  r.closed_won + r.commit_open + r.best_case_open AS best_case_forecast,
  ROUND(r.closed_won + r.weighted_open, 0) AS weighted_forecast,
  ROUND(SAFE_DIVIDE(r.closed_won, q.quota_amount), 3) AS attainment,
  ROUND(SAFE_DIVIDE(r.closed_won + r.commit_open, q.quota_amount), 3) AS commit_attainment,
  ROUND(SAFE_DIVIDE(r.commit_open + r.best_case_open + r.pipeline_open, q.quota_amount - r.closed_won), 2) AS pipeline_coverage,
  r.open_opps,
  r.past_due_opps,
  r.stale_opps,
  r.repeatedly_slipped_opps,
  r.competitive_open_amount,
  r.top_open_deals,
  SUM(r.closed_won) OVER (PARTITION BY o.manager_name) AS team_closed_won,
  SUM(q.quota_amount) OVER (PARTITION BY o.manager_name) AS team_quota,
  ROUND(SAFE_DIVIDE(r.commit_open, r.commit_open + r.best_case_open + r.pipeline_open), 3) AS commit_share_of_open,
  ROUND(SAFE_DIVIDE(r.stale_opps, r.open_opps), 3) AS stale_share,
  CASE
    WHEN SAFE_DIVIDE(r.closed_won + r.commit_open, q.quota_amount) >= 1 THEN 'on_track'
    WHEN SAFE_DIVIDE(r.closed_won + r.commit_open + r.best_case_open, q.quota_amount) >= 1 THEN 'needs_upside'
    ELSE 'at_risk'
  END AS forecast_status
FROM rollup AS r
JOIN owners AS o USING (owner_id)
LEFT JOIN quota AS q USING (owner_id)
ORDER BY o.manager_name, attainment DESC
