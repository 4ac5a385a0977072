-- Payment processing cost model: interchange, scheme fees and processor markup per transaction,
-- rolled up to merchant x card product x month. Interchange rates come from a rules table
-- keyed by region, card type, card level and merchant category; the most specific rule wins.

WITH captures AS (
  SELECT
    c.capture_id,
    c.merchant_id,
    m.mcc,
    m.region AS merchant_region,
    m.pricing_model,                 -- 'blended' | 'ic_plus_plus'
    m.blended_rate_bps,
    m.blended_fixed_fee,
    c.captured_at,
    DATE_TRUNC(DATE(c.captured_at), MONTH) AS month,
    c.amount_minor / 100 AS amount,
    c.currency,
    c.card_network,
    c.card_bin,
    c.card_country,
    c.is_card_present,
    c.is_3ds_authenticated,
    c.is_recurring
  FROM `pay-risk-prod.core.captures` AS c
  JOIN `pay-risk-prod.core.merchants` AS m USING (merchant_id)
  WHERE c.captured_at >= TIMESTAMP(DATE_SUB(DATE_TRUNC(CURRENT_DATE(), MONTH), INTERVAL 3 MONTH))
),

bins AS (
  SELECT
    bin,
    card_type,          -- 'debit' | 'credit' | 'prepaid'
    card_level,         -- 'standard' | 'gold' | 'platinum' | 'commercial'
    issuer_region
  FROM `pay-risk-prod.reference.bin_table`
  QUALIFY ROW_NUMBER() OVER (PARTITION BY bin ORDER BY updated_at DESC) = 1
),

enriched AS (
  SELECT
    c.*,
    IFNULL(b.card_type, 'credit') AS card_type,
    IFNULL(b.card_level, 'standard') AS card_level,
    IFNULL(b.issuer_region, 'unknown') AS issuer_region,
    CASE
      WHEN b.issuer_region = c.merchant_region THEN 'domestic'
      WHEN b.issuer_region IN ('EEA') AND c.merchant_region IN ('EEA') THEN 'intra_eea'
      ELSE 'cross_border'
    END AS geography
  FROM captures AS c
  LEFT JOIN bins AS b
    ON b.bin = c.card_bin
),

ic_rules AS (
  SELECT
    rule_id,
    card_network,
    geography,
    card_type,
    card_level,           -- NULL = any
    mcc_group,            -- NULL = any
    card_present,         -- NULL = any
    rate_bps,
    fixed_fee,
    cap_amount,
    -- specificity: more non-null qualifiers = more specific
    (IF(card_level IS NULL, 0, 1) + IF(mcc_group IS NULL, 0, 1) + IF(card_present IS NULL, 0, 1)) AS specificity
  FROM `pay-risk-prod.reference.interchange_rules`
  WHERE CURRENT_DATE() BETWEEN valid_from AND IFNULL(valid_to, DATE '9999-12-31')
),

mcc_groups AS (
  SELECT mcc, mcc_group
  FROM `pay-risk-prod.reference.mcc_groups`
),

matched AS (
  SELECT
    e.capture_id,
    ARRAY_AGG(
      STRUCT(r.rule_id, r.rate_bps, r.fixed_fee, r.cap_amount)
      ORDER BY r.specificity DESC, r.rate_bps DESC
      LIMIT 1
    )[SAFE_OFFSET(0)] AS rule
  FROM enriched AS e
  LEFT JOIN mcc_groups AS mg
    ON mg.mcc = e.mcc
  JOIN ic_rules AS r
    ON r.card_network = e.card_network
   AND r.geography = e.geography
   AND r.card_type = e.card_type
   AND (r.card_level IS NULL OR r.card_level = e.card_level)
   AND (r.mcc_group IS NULL OR r.mcc_group = mg.mcc_group)
   AND (r.card_present IS NULL OR r.card_present = e.is_card_present)
  GROUP BY e.capture_id
),

scheme_fees AS (
  SELECT
    card_network,
    geography,
    assessment_bps,
    per_txn_fee,
    cross_border_bps
  FROM `pay-risk-prod.reference.scheme_fee_schedule`
  WHERE CURRENT_DATE() BETWEEN valid_from AND IFNULL(valid_to, DATE '9999-12-31')
),

costed AS (
  SELECT
    e.*,
    m.rule.rule_id AS ic_rule_id,
    LEAST(
      e.amount * IFNULL(m.rule.rate_bps, 180) / 10000 + IFNULL(m.rule.fixed_fee, 0.10),
      IFNULL(m.rule.cap_amount, 1e9)
    ) AS interchange_fee,
    e.amount * IFNULL(sf.assessment_bps, 14) / 10000
      + IFNULL(sf.per_txn_fee, 0.02)
      + IF(e.geography = 'cross_border', e.amount * IFNULL(sf.cross_border_bps, 60) / 10000, 0) AS scheme_fee,
    CASE e.pricing_model
      WHEN 'blended' THEN e.amount * e.blended_rate_bps / 10000 + e.blended_fixed_fee
      ELSE NULL
    END AS blended_revenue
  FROM enriched AS e
  LEFT JOIN matched AS m USING (capture_id)
  LEFT JOIN scheme_fees AS sf
    ON sf.card_network = e.card_network
   AND sf.geography = e.geography
),

priced AS (
  SELECT
    *,
    -- IC++ merchants pay pass-through costs plus a markup
    CASE pricing_model
      WHEN 'ic_plus_plus' THEN interchange_fee + scheme_fee + amount * 0.0025 + 0.05
      ELSE blended_revenue
    END AS merchant_fee
  FROM costed
)

SELECT
  month,
  merchant_id,
  ANY_VALUE(mcc) AS mcc,
  ANY_VALUE(pricing_model) AS pricing_model,
  card_network,
  card_type,
  card_level,
  geography,
  COUNT(*) AS transactions,
  ROUND(SUM(amount), 2) AS volume,
  ROUND(SUM(interchange_fee), 2) AS interchange,
  ROUND(SUM(scheme_fee), 2) AS scheme_fees,
  ROUND(SUM(merchant_fee), 2) AS merchant_fees,
  ROUND(SUM(merchant_fee - interchange_fee - scheme_fee), 2) AS net_processing_margin,
  ROUND(SAFE_DIVIDE(SUM(interchange_fee), SUM(amount)) * 10000, 1) AS interchange_bps,
  ROUND(SAFE_DIVIDE(SUM(merchant_fee - interchange_fee - scheme_fee), SUM(amount)) * 10000, 1) AS margin_bps,
  COUNTIF(ic_rule_id IS NULL) AS unmatched_ic_rule,
  COUNTIF(is_3ds_authenticated) AS authenticated_txns,
  COUNTIF(is_recurring) AS recurring_txns,
  ROUND(SAFE_DIVIDE(COUNTIF(merchant_fee < interchange_fee + scheme_fee), COUNT(*)), 4) AS loss_making_txn_share
FROM priced
GROUP BY month, merchant_id, card_network, card_type, card_level, geography
ORDER BY month DESC, volume DESC
