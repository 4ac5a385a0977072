-- Trust & Safety: report -> triage -> review -> action funnel for user-generated content,
-- with automated classifier precision by policy and turnaround metrics.
-- Grain: policy_area x detection_source x week.

WITH reports AS (
  SELECT
    r.report_id,
    r.content_id,
    r.content_type,
    r.reporter_id,
    r.reported_at,
    r.reason_code,
    'user_report' AS detection_source,
    CAST(NULL AS FLOAT64) AS classifier_score
  FROM `trust-safety-prod.reports.user_reports` AS r
  WHERE r.reported_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 84 DAY)

  UNION ALL

  SELECT
    c.flag_id AS report_id,
    c.content_id,
    c.content_type,
    NULL AS reporter_id,
    c.flagged_at AS reported_at,
    c.predicted_policy AS reason_code,
    CONCAT('classifier:', c.model_name) AS detection_source,
    c.score AS classifier_score
  FROM `trust-safety-prod.classifiers.auto_flags` AS c
  WHERE c.flagged_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 84 DAY)
    AND c.score >= c.threshold
),

policy_map AS (
  SELECT reason_code, policy_area
  FROM UNNEST([
    STRUCT('spam' AS reason_code, 'spam' AS policy_area),
    ('scam', 'fraud'),
    ('phishing', 'fraud'),
    ('harassment', 'abuse'),
    ('hate', 'abuse'),
    ('threat', 'violence'),
    ('self_harm', 'safety'),
    ('nudity', 'adult'),
    ('csam', 'child_safety'),
    ('ip', 'intellectual_property')
  ])
),

triage AS (
  SELECT
    report_id,
    MIN(enqueued_at) AS enqueued_at,
    ANY_VALUE(queue_name) AS queue_name,
    LOGICAL_OR(auto_closed) AS auto_closed,
    MAX(priority) AS priority
  FROM `trust-safety-prod.moderation.review_queue_items`
  GROUP BY report_id
),

decisions AS (
  SELECT
    d.report_id,
    d.decision,
    d.decided_at,
    d.moderator_id,
    d.handle_time_s,
    d.action_type,       -- 'remove', 'label', 'restrict', 'ban_user', 'none'
    d.is_appealed
  FROM `trust-safety-prod.moderation.decisions` AS d
  QUALIFY ROW_NUMBER() OVER (PARTITION BY d.report_id ORDER BY d.decided_at DESC) = 1
),

appeals AS (
  SELECT
    report_id,
    LOGICAL_OR(outcome = 'overturned') AS overturned
  FROM `trust-safety-prod.moderation.appeals`
  GROUP BY report_id
),

content AS (
  SELECT
    content_id,
    author_id,
    created_at AS content_created_at,
    view_count_at_action
  FROM `trust-safety-prod.content.content_index`
),

enriched AS (
  SELECT
    r.*,
    IFNULL(pm.policy_area, 'other') AS policy_area,
    t.enqueued_at,
    t.queue_name,
    IFNULL(t.auto_closed, FALSE) AS auto_closed,
    t.priority,
    d.decision,
    d.decided_at,
    d.moderator_id,
    d.handle_time_s,
    d.action_type,
    IFNULL(d.is_appealed, FALSE) AS is_appealed,
    IFNULL(a.overturned, FALSE) AS overturned,
    c.author_id,
    c.content_created_at,
    c.view_count_at_action,
    d.decision = 'violating' AS is_violating,
    TIMESTAMP_DIFF(r.reported_at, c.content_created_at, MINUTE) AS minutes_content_to_report,
    TIMESTAMP_DIFF(d.decided_at, r.reported_at, MINUTE) AS minutes_report_to_decision
  FROM reports AS r
  LEFT JOIN policy_map AS pm USING (reason_code)
  LEFT JOIN triage AS t USING (report_id)
  LEFT JOIN decisions AS d USING (report_id)
  LEFT JOIN appeals AS a USING (report_id)
  LEFT JOIN content AS c USING (content_id)
),

-- repeat offenders: authors with 3+ violating decisions in the window
offenders AS (
  SELECT author_id, COUNT(*) AS violations
  FROM enriched
  WHERE is_violating
  GROUP BY author_id
  HAVING COUNT(*) >= 3
)

SELECT
  DATE_TRUNC(DATE(e.reported_at), ISOWEEK) AS iso_week,
  e.policy_area,
  SPLIT(e.detection_source, ':')[OFFSET(0)] AS detection_family,
  e.detection_source,
  COUNT(*) AS reports,
  COUNT(DISTINCT e.content_id) AS distinct_content,
  COUNTIF(e.enqueued_at IS NOT NULL) AS triaged,
  COUNTIF(e.auto_closed) AS auto_closed,
  COUNTIF(e.decision IS NOT NULL) AS decided,
  COUNTIF(e.is_violating) AS violating,
  ROUND(SAFE_DIVIDE(COUNTIF(e.is_violating), COUNTIF(e.decision IS NOT NULL)), 4) AS precision_at_review,
  COUNTIF(e.action_type = 'remove') AS removals,
  COUNTIF(e.action_type = 'ban_user') AS user_bans,
  COUNTIF(e.is_appealed) AS appealed,
  COUNTIF(e.overturned) AS overturned,
  ROUND(SAFE_DIVIDE(COUNTIF(e.overturned), COUNTIF(e.is_appealed)), 4) AS overturn_rate,
  APPROX_QUANTILES(e.minutes_report_to_decision, 100 IGNORE NULLS)[OFFSET(50)] AS p50_minutes_to_decision,
  APPROX_QUANTILES(e.minutes_report_to_decision, 100 IGNORE NULLS)[OFFSET(90)] AS p90_minutes_to_decision,
  APPROX_QUANTILES(e.minutes_content_to_report, 100 IGNORE NULLS)[OFFSET(50)] AS p50_minutes_to_detection,
  ROUND(AVG(e.handle_time_s), 1) AS avg_handle_time_s,
  SUM(IF(e.is_violating, e.view_count_at_action, 0)) AS violating_views_before_action,
  COUNT(DISTINCT IF(o.author_id IS NOT NULL, e.author_id, NULL)) AS repeat_offender_authors,
  ROUND(AVG(e.classifier_score), 3) AS avg_classifier_score
FROM enriched AS e
LEFT JOIN offenders AS o USING (author_id)
GROUP BY iso_week, e.policy_area, detection_family, e.detection_source
ORDER BY iso_week DESC, e.policy_area, reports DESC
