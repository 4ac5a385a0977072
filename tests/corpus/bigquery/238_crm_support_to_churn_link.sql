-- Do support experiences predict churn? Churn rate in the 90 days after a ticket,
-- split by CSAT, resolution time and number of reopens.
WITH tickets AS (
  SELECT
    t.ticket_id,
    t.organization_id AS account_id,
    t.created_at,
    t.solved_at,
    t.satisfaction_score,
    t.priority,
    IFNULL(r.reopens, 0) AS reopens,
    TIMESTAMP_DIFF(t.solved_at, t.created_at, HOUR) AS hours_to_solve
  FROM `acme-dw.support.tickets` AS t
  LEFT JOIN (
    SELECT ticket_id, COUNTIF(new_value = 'open' AND old_value = 'solved') AS reopens
    FROM `acme-dw.support.ticket_field_changes`
    WHERE field_name = 'status'
    GROUP BY ticket_id
  ) AS r USING (ticket_id)
  WHERE t.created_at BETWEEN TIMESTAMP '2023-07-01' AND TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
    AND t.solved_at IS NOT NULL
),

churn AS (
  SELECT account_id, MIN(churned_at) AS churned_at
  FROM `saas-core-prod.accounts.account_churn_events`
  GROUP BY account_id
),

labelled AS (
  SELECT
    t.*,
    c.churned_at IS NOT NULL
      AND c.churned_at BETWEEN t.solved_at AND TIMESTAMP_ADD(t.solved_at, INTERVAL 90 DAY) AS churned_90d,
    CASE
      WHEN t.satisfaction_score IS NULL THEN 'no_rating'
      WHEN t.satisfaction_score >= 4 THEN 'good'
      WHEN t.satisfaction_score = 3 THEN 'neutral'
      ELSE 'bad'
    END AS csat_bucket,
    CASE
      WHEN t.hours_to_solve <= 4 THEN '0-4h'
      WHEN t.hours_to_solve <= 24 THEN '4-24h'
      WHEN t.hours_to_solve <= 72 THEN '1-3d'
      ELSE '3d+'
    END AS resolution_bucket
  FROM tickets AS t
  LEFT JOIN churn AS c USING (account_id)
)

SELECT
  csat_bucket,
  resolution_bucket,
  IF(reopens > 0, 'reopened', 'not_reopened') AS reopen_bucket,
  COUNT(*) AS tickets,
  COUNT(DISTINCT account_id) AS accounts,
  COUNTIF(churned_90d) AS tickets_followed_by_churn,
  ROUND(SAFE_DIVIDE(COUNTIF(churned_90d), COUNT(*)), 4) AS churn_rate_90d
FROM labelled
GROUP BY GROUPING SETS (
  (csat_bucket),
  (resolution_bucket),
  (reopen_bucket),
  (csat_bucket, resolution_bucket)
)
ORDER BY csat_bucket NULLS LAST, resolution_bucket NULLS LAST, reopen_bucket NULLS LAST
