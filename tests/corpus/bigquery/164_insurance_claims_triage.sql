/*
  Insurance claims triage features & SLA report (motor and home lines).
  One row per open or recently closed claim:
    - policy context at loss date (point-in-time)
    - claimant history, prior claims frequency
    - fraud indicators used by the SIU referral rules
    - handling SLA status
*/
WITH claims AS (
  SELECT
    c.claim_id,
    c.policy_id,
    c.line_of_business,
    c.loss_date,
    c.reported_at,
    c.closed_at,
    c.status,
    c.loss_cause,
    c.reserve_amount,
    c.paid_amount,
    c.claimant_party_id,
    c.handler_id,
    c.loss_location.postal_code AS loss_postal_code,
    ST_GEOGPOINT(c.loss_location.lng, c.loss_location.lat) AS loss_point,
    c.description_text
  FROM claims.claims AS c
  WHERE c.reported_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)
     OR c.status != 'closed'
),

policy_at_loss AS (
  SELECT
    cl.claim_id,
    p.policy_id,
    p.product_code,
    p.inception_date,
    p.sum_insured,
    p.deductible,
    p.premium_annual,
    p.payment_frequency,
    p.channel AS sales_channel,
    p.insured_address.postal_code AS insured_postal_code,
    ST_GEOGPOINT(p.insured_address.lng, p.insured_address.lat) AS insured_point
  FROM claims AS cl
  JOIN policy.policy_versions AS p
    ON p.policy_id = cl.policy_id
   AND cl.loss_date BETWEEN p.version_start AND IFNULL(p.version_end, DATE '9999-12-31')
),

prior_claims AS (
  SELECT
    cl.claim_id,
    COUNT(prev.claim_id) AS prior_claims_3y,
    SUM(IFNULL(prev.paid_amount, 0)) AS prior_paid_3y,
    COUNTIF(prev.siu_outcome = 'confirmed_fraud') AS prior_confirmed_fraud
  FROM claims AS cl
  LEFT JOIN claims.claims AS prev
    ON prev.claimant_party_id = cl.claimant_party_id
   AND prev.claim_id != cl.claim_id
   AND prev.loss_date BETWEEN DATE_SUB(cl.loss_date, INTERVAL 3 YEAR) AND cl.loss_date
  GROUP BY cl.claim_id
),

policy_changes AS (
  -- cover increased shortly before the loss is a classic red flag
  SELECT
    cl.claim_id,
    LOGICAL_OR(pc.change_type = 'sum_insured_increase'
               AND pc.effective_date BETWEEN DATE_SUB(cl.loss_date, INTERVAL 60 DAY) AND cl.loss_date) AS cover_increase_60d,
    LOGICAL_OR(pc.change_type = 'add_coverage'
               AND pc.effective_date BETWEEN DATE_SUB(cl.loss_date, INTERVAL 60 DAY) AND cl.loss_date) AS coverage_added_60d
  FROM claims AS cl
  JOIN policy.policy_changes AS pc
    ON pc.policy_id = cl.policy_id
  GROUP BY cl.claim_id
),

shared_contacts AS (
  -- claimant phone / bank account shared with other claimants
  SELECT
    cl.claim_id,
    COUNT(DISTINCT other.party_id) AS parties_sharing_contact
  FROM claims AS cl
  JOIN parties.contact_points AS mine
    ON mine.party_id = cl.claimant_party_id
  JOIN parties.contact_points AS other
    ON other.contact_value_hash = mine.contact_value_hash
   AND other.contact_type = mine.contact_type
   AND other.party_id != mine.party_id
  WHERE mine.contact_type IN ('phone', 'iban')
  GROUP BY cl.claim_id
),

handling AS (
  SELECT
    claim_id,
    MIN(IF(activity_type = 'first_contact', activity_ts, NULL)) AS first_contact_at,
    MIN(IF(activity_type = 'inspection_completed', activity_ts, NULL)) AS inspected_at,
    MIN(IF(activity_type = 'payment_issued', activity_ts, NULL)) AS first_payment_at,
    COUNT(*) AS activities,
    MAX(activity_ts) AS last_activity_at
  FROM claims.claim_activities
  GROUP BY claim_id
)

SELECT
  c.claim_id,
  c.policy_id,
  c.line_of_business,
  c.loss_cause,
  c.status,
  c.loss_date,
  c.reported_at,
  DATE_DIFF(DATE(c.reported_at), c.loss_date, DAY) AS reporting_delay_days,
  DATE_DIFF(c.loss_date, p.inception_date, DAY) AS days_since_inception,
  p.product_code,
  p.sales_channel,
  p.sum_insured,
  p.deductible,
  c.reserve_amount,
  c.paid_amount,
  ROUND(SAFE_DIVIDE(c.reserve_amount, p.sum_insured), 4) AS reserve_to_sum_insured,
  ROUND(ST_DISTANCE(c.loss_point, p.insured_point) / 1000, 1) AS km_from_insured_address,
  IFNULL(pr.prior_claims_3y, 0) AS prior_claims_3y,
  IFNULL(pr.prior_paid_3y, 0) AS prior_paid_3y,
  IFNULL(pr.prior_confirmed_fraud, 0) > 0 AS prior_fraud,
  IFNULL(pc.cover_increase_60d, FALSE) AS cover_increase_60d,
  IFNULL(pc.coverage_added_60d, FALSE) AS coverage_added_60d,
  IFNULL(sc.parties_sharing_contact, 0) AS parties_sharing_contact,
  REGEXP_CONTAINS(LOWER(c.description_text), r'\b(stolen|theft)\b') AND c.loss_cause != 'theft' AS description_cause_mismatch,
  -- SIU referral score (rules v12)
  (IF(DATE_DIFF(c.loss_date, p.inception_date, DAY) < 30, 25, 0)
   + IF(DATE_DIFF(DATE(c.reported_at), c.loss_date, DAY) > 30, 10, 0)
   + IF(IFNULL(pc.cover_increase_60d, FALSE), 20, 0)
   + IF(IFNULL(pr.prior_claims_3y, 0) >= 3, 15, 0)
   + IF(IFNULL(pr.prior_confirmed_fraud, 0) > 0, 40, 0)
   + IF(IFNULL(sc.parties_sharing_contact, 0) >= 2, 25, 0)
   + IF(ST_DISTANCE(c.loss_point, p.insured_point) > 300000 AND c.line_of_business = 'home', 15, 0)
  ) AS siu_score,
  -- handling SLA
  TIMESTAMP_DIFF(h.first_contact_at, c.reported_at, HOUR) AS hours_to_first_contact,
  TIMESTAMP_DIFF(h.first_contact_at, c.reported_at, HOUR) > 24 OR (h.first_contact_at IS NULL AND TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), c.reported_at, HOUR) > 24) AS first_contact_sla_breached,
  TIMESTAMP_DIFF(h.first_payment_at, c.reported_at, DAY) AS days_to_first_payment,
  DATE_DIFF(CURRENT_DATE(), DATE(h.last_activity_at), DAY) AS days_since_last_activity,
  c.handler_id
FROM claims AS c
LEFT JOIN policy_at_loss AS p USING (claim_id)
LEFT JOIN prior_claims AS pr USING (claim_id)
LEFT JOIN policy_changes AS pc USING (claim_id)
LEFT JOIN shared_contacts AS sc USING (claim_id)
LEFT JOIN handling AS h USING (claim_id)
ORDER BY siu_score DESC, c.reported_at
