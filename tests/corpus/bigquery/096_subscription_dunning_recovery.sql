-- Involuntary churn & dunning recovery analysis.
-- For each failed renewal charge, follow the retry schedule and determine whether the
-- subscription was recovered, by which retry, via which channel, or churned.

WITH failed_renewals AS (
  SELECT
    i.invoice_id,
    i.subscription_id,
    i.customer_id,
    i.amount_due_minor / 100 AS amount_due,
    i.currency,
    i.billing_reason,
    i.created_at AS invoice_created_at,
    i.first_payment_failed_at,
    i.first_failure_code,
    i.card_brand,
    i.card_funding,
    i.card_exp_month,
    i.card_exp_year
  FROM `subs-analytics.billing.invoices` AS i
  WHERE i.billing_reason = 'subscription_cycle'
    AND i.first_payment_failed_at IS NOT NULL
    AND i.created_at >= TIMESTAMP '2024-01-01'
),

attempts AS (
  SELECT
    pa.invoice_id,
    pa.attempted_at,
    pa.outcome,                 -- 'succeeded' | 'failed'
    pa.failure_code,
    pa.trigger,                 -- 'smart_retry' | 'customer_updated_card' | 'manual' | 'card_updater'
    ROW_NUMBER() OVER (PARTITION BY pa.invoice_id ORDER BY pa.attempted_at) AS attempt_number
  FROM `subs-analytics.billing.payment_attempts` AS pa
  WHERE pa.invoice_id IN (SELECT invoice_id FROM failed_renewals)
),

attempt_summary AS (
  SELECT
    invoice_id,
    COUNT(*) AS attempts,
    MIN(IF(outcome = 'succeeded', attempted_at, NULL)) AS recovered_at,
    MIN(IF(outcome = 'succeeded', attempt_number, NULL)) AS recovered_on_attempt,
    ARRAY_AGG(IF(outcome = 'succeeded', trigger, NULL) IGNORE NULLS LIMIT 1)[SAFE_OFFSET(0)] AS recovery_trigger,
    ARRAY_AGG(failure_code IGNORE NULLS ORDER BY attempted_at) AS failure_codes,
    MAX(attempted_at) AS last_attempt_at
  FROM attempts
  GROUP BY invoice_id
),

dunning_emails AS (
  SELECT
    invoice_id,
    COUNT(*) AS emails_sent,
    COUNTIF(opened_at IS NOT NULL) AS emails_opened,
    COUNTIF(clicked_at IS NOT NULL) AS emails_clicked,
    MIN(clicked_at) AS first_click_at
  FROM `subs-analytics.lifecycle.dunning_messages`
  WHERE channel = 'email'
  GROUP BY invoice_id
),

in_app_prompts AS (
  SELECT
    customer_id,
    shown_at,
    action
  FROM `subs-analytics.lifecycle.in_app_payment_prompts`
  WHERE shown_at >= TIMESTAMP '2024-01-01'
),

subscription_end AS (
  SELECT
    subscription_id,
    canceled_at,
    cancellation_reason
  FROM `subs-analytics.billing.subscriptions`
  WHERE canceled_at IS NOT NULL
),

joined AS (
  SELECT
    f.*,
    s.attempts,
    s.recovered_at,
    s.recovered_on_attempt,
    s.recovery_trigger,
    s.failure_codes,
    s.last_attempt_at,
    IFNULL(d.emails_sent, 0) AS emails_sent,
    IFNULL(d.emails_opened, 0) AS emails_opened,
    IFNULL(d.emails_clicked, 0) AS emails_clicked,
    d.first_click_at,
    (
      SELECT COUNT(*)
      FROM in_app_prompts AS p
      WHERE p.customer_id = f.customer_id
        AND p.shown_at BETWEEN f.first_payment_failed_at AND IFNULL(s.recovered_at, TIMESTAMP_ADD(f.first_payment_failed_at, INTERVAL 30 DAY))
    ) AS in_app_prompts_shown,
    se.canceled_at,
    se.cancellation_reason,
    -- card expired before the renewal date?
    DATE(f.card_exp_year, f.card_exp_month, 1) < DATE_TRUNC(DATE(f.invoice_created_at), MONTH) AS card_was_expired
  FROM failed_renewals AS f
  LEFT JOIN attempt_summary AS s USING (invoice_id)
  LEFT JOIN dunning_emails AS d USING (invoice_id)
  LEFT JOIN subscription_end AS se
    ON se.subscription_id = f.subscription_id
   AND se.canceled_at >= f.first_payment_failed_at
),

outcomes AS (
  SELECT
    *,
    CASE
      WHEN recovered_at IS NOT NULL THEN 'recovered'
      WHEN canceled_at IS NOT NULL AND cancellation_reason = 'payment_failed' THEN 'involuntary_churn'
      WHEN canceled_at IS NOT NULL THEN 'voluntary_churn_during_dunning'
      WHEN TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), first_payment_failed_at, DAY) < 30 THEN 'in_dunning'
      ELSE 'unresolved'
    END AS outcome,
    TIMESTAMP_DIFF(recovered_at, first_payment_failed_at, HOUR) / 24 AS days_to_recover,
    CASE
      WHEN recovery_trigger = 'customer_updated_card' AND first_click_at IS NOT NULL AND first_click_at <= recovered_at THEN 'email'
      WHEN recovery_trigger = 'customer_updated_card' AND in_app_prompts_shown > 0 THEN 'in_app'
      WHEN recovery_trigger = 'customer_updated_card' THEN 'self_serve_other'
      WHEN recovery_trigger = 'card_updater' THEN 'network_card_updater'
      WHEN recovery_trigger = 'smart_retry' THEN 'retry'
      ELSE recovery_trigger
    END AS recovery_channel
  FROM joined
)

SELECT
  DATE_TRUNC(DATE(first_payment_failed_at), MONTH) AS failure_month,
  first_failure_code,
  card_funding,
  card_was_expired,
  COUNT(*) AS failed_invoices,
  ROUND(SUM(amount_due), 2) AS amount_at_risk,
  COUNTIF(outcome = 'recovered') AS recovered,
  ROUND(SUM(IF(outcome = 'recovered', amount_due, 0)), 2) AS amount_recovered,
  ROUND(SAFE_DIVIDE(COUNTIF(outcome = 'recovered'), COUNTIF(outcome != 'in_dunning')), 4) AS recovery_rate,
  COUNTIF(outcome = 'involuntary_churn') AS involuntary_churn,
  COUNTIF(outcome = 'voluntary_churn_during_dunning') AS voluntary_churn,
  COUNTIF(outcome = 'in_dunning') AS still_in_dunning,
  ROUND(AVG(days_to_recover), 2) AS avg_days_to_recover,
  APPROX_QUANTILES(recovered_on_attempt, 100 IGNORE NULLS)[OFFSET(50)] AS median_recovery_attempt,
  COUNTIF(recovery_channel = 'retry') AS recovered_by_retry,
  COUNTIF(recovery_channel = 'email') AS recovered_by_email,
  COUNTIF(recovery_channel = 'in_app') AS recovered_by_in_app,
  COUNTIF(recovery_channel = 'network_card_updater') AS recovered_by_card_updater,
  ROUND(SAFE_DIVIDE(SUM(emails_clicked), SUM(emails_sent)), 4) AS email_ctr,
  APPROX_TOP_COUNT(failure_codes[SAFE_OFFSET(ARRAY_LENGTH(failure_codes) - 1)], 3) AS top_final_failure_codes
FROM outcomes
GROUP BY failure_month, first_failure_code, card_funding, card_was_expired
ORDER BY failure_month DESC, failed_invoices DESC
