/*
 * Net revenue retention by signup cohort (quarterly), SaaS self-serve accounts.
 * NRR(n) = MRR of cohort accounts in month n / MRR of the same accounts in month 0.
 * GRR caps each account's MRR at its month-0 level (no expansion credit).
 */
with mrr as (
  select
    account_id,
    month_start,
    mrr_usd
  from saas_marts.account_mrr_monthly
  where month_start >= date '2022-01-01'
),

first_paid as (
  select
    account_id,
    min(month_start) as cohort_month
  from mrr
  where mrr_usd > 0
  group by account_id
),

base as (
  select
    f.account_id,
    date_trunc(f.cohort_month, quarter) as cohort_quarter,
    f.cohort_month,
    m0.mrr_usd as mrr_0
  from first_paid f
  join mrr m0
    on m0.account_id = f.account_id
   and m0.month_start = f.cohort_month
),

aged as (
  select
    b.cohort_quarter,
    b.account_id,
    date_diff(m.month_start, b.cohort_month, month) as months_since_start,
    b.mrr_0,
    ifnull(m.mrr_usd, 0) as mrr_n
  from base b
  join mrr m
    on m.account_id = b.account_id
   and m.month_start >= b.cohort_month
)

select
  cohort_quarter,
  months_since_start,
  count(distinct account_id) as accounts_in_cohort,
  countif(mrr_n > 0) as paying_accounts,
  round(sum(mrr_0), 2) as starting_mrr,
  round(sum(mrr_n), 2) as current_mrr,
  round(safe_divide(sum(mrr_n), sum(mrr_0)), 4) as net_revenue_retention,
  round(safe_divide(sum(least(mrr_n, mrr_0)), sum(mrr_0)), 4) as gross_revenue_retention,
  round(safe_divide(countif(mrr_n > 0), count(distinct account_id)), 4) as logo_retention,
  round(safe_divide(sum(greatest(mrr_n - mrr_0, 0)), sum(mrr_0)), 4) as expansion_rate,
  round(safe_divide(sum(if(mrr_n > 0, greatest(mrr_0 - mrr_n, 0), 0)), sum(mrr_0)), 4) as contraction_rate,
  round(safe_divide(sum(if(mrr_n = 0, mrr_0, 0)), sum(mrr_0)), 4) as churn_rate
from aged
where months_since_start in (0, 3, 6, 9, 12, 18, 24)
group by cohort_quarter, months_since_start
order by cohort_quarter, months_since_start
