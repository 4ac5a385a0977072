-- Trial to paid conversion by plan, trial length and signup week.
select
  date_trunc(date(t.trial_started_at), week(monday)) as signup_week,
  t.plan_code,
  date_diff(date(t.trial_ends_at), date(t.trial_started_at), day) as trial_days,
  count(*) as trials,
  countif(s.first_paid_at is not null) as converted,
  round(safe_divide(countif(s.first_paid_at is not null), count(*)), 4) as conversion_rate,
  countif(t.payment_method_added_at is not null) as added_payment_method,
  round(avg(timestamp_diff(s.first_paid_at, t.trial_started_at, hour)) / 24, 1) as avg_days_to_paid,
  countif(t.canceled_during_trial) as canceled_in_trial
from billing.trials t
left join (
  select subscription_id, min(paid_at) as first_paid_at
  from billing.invoices_paid
  where amount_paid_minor > 0
  group by subscription_id
) s using (subscription_id)
where t.trial_started_at >= timestamp '2024-01-01'
  and t.trial_ends_at < current_timestamp()
group by 1, 2, 3
order by signup_week desc, plan_code, trial_days
