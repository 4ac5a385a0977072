/* Authorization rate by issuer country, card brand and 3DS outcome (last 28 days). */
-- Owner: payments-performance
-- Used by the weekly issuer performance review; thresholds: min 100 attempts per cell.
-- outcome.type values: authorized | issuer_declined | blocked | invalid
select
  card.brand as card_brand,
  card.issuer_country,
  coalesce(three_ds.outcome, 'not_attempted') as three_ds_outcome,
  count(*) as attempts,
  countif(outcome.type = 'authorized') as authorized,
  countif(outcome.type = 'issuer_declined') as issuer_declined,
  countif(outcome.type = 'blocked') as blocked,
  round(100 * safe_divide(countif(outcome.type = 'authorized'), count(*)), 2) as auth_rate_pct,
  approx_top_count(outcome.decline_code, 5) as top_decline_codes,
  sum(if(outcome.type = 'authorized', amount, 0)) / 100 as authorized_volume
from `pay-core-analytics.stripe.charges`
where created >= timestamp_sub(current_timestamp(), interval 28 day)
  and livemode
group by 1, 2, 3
having attempts > 100
order by attempts desc
