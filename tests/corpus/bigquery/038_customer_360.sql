-- customer_360: one wide row per customer for CRM sync & the support console.
-- Joins profile, orders, subscriptions, support tickets, marketing consent and NPS.
with profile as (
  select
    c.customer_id,
    c.email,
    c.first_name,
    c.last_name,
    c.created_at as signup_at,
    c.country_code,
    c.preferred_language,
    c.marketing_opt_in,
    c.address.city as city,
    c.address.postal_code as postal_code,
    c.referral_code_used,
    row_number() over (partition by lower(c.email) order by c.created_at) as email_rank
  from core.customers c
  where c.deleted_at is null
),

orders as (
  select
    customer_id,
    count(*) as lifetime_orders,
    sum(net_amount_usd) as lifetime_revenue,
    min(created_at) as first_order_at,
    max(created_at) as last_order_at,
    countif(created_at >= timestamp_sub(current_timestamp(), interval 90 day)) as orders_90d,
    sum(if(created_at >= timestamp_sub(current_timestamp(), interval 365 day), net_amount_usd, 0)) as revenue_365d,
    avg(net_amount_usd) as aov,
    array_agg(struct(order_id, created_at, net_amount_usd, status) order by created_at desc limit 5) as recent_orders
  from commerce.orders
  where status not in ('cancelled', 'fraud', 'test')
  group by customer_id
),

order_categories as (
  select
    o.customer_id,
    li.category as category,
    sum(li.quantity * li.unit_price_usd) as category_spend
  from commerce.orders o,
    unnest(o.line_items) li
  where o.status not in ('cancelled', 'fraud', 'test')
  group by 1, 2
),

top_category as (
  select customer_id, category as favourite_category
  from order_categories
  qualify row_number() over (partition by customer_id order by category_spend desc) = 1
),

subs as (
  select
    customer_id,
    countif(status = 'active') as active_subscriptions,
    logical_or(status = 'past_due') as has_past_due,
    max(if(status = 'active', plan_name, null)) as active_plan,
    min(started_at) as first_subscription_at,
    max(canceled_at) as last_cancellation_at,
    sum(if(status = 'active', mrr_usd, 0)) as current_mrr
  from billing.subscriptions
  group by customer_id
),

tickets as (
  select
    requester_customer_id as customer_id,
    count(*) as tickets_total,
    countif(created_at >= timestamp_sub(current_timestamp(), interval 30 day)) as tickets_30d,
    countif(status in ('new', 'open', 'pending')) as tickets_open,
    avg(satisfaction_score) as avg_csat,
    max(created_at) as last_ticket_at,
    array_agg(subject ignore nulls order by created_at desc limit 1)[safe_offset(0)] as last_ticket_subject
  from support.tickets
  group by 1
),

nps as (
  select
    customer_id,
    score as last_nps_score,
    responded_at as last_nps_at,
    case
      when score >= 9 then 'promoter'
      when score >= 7 then 'passive'
      else 'detractor'
    end as nps_bucket
  from surveys.nps_responses
  where score is not null
  qualify row_number() over (partition by customer_id order by responded_at desc) = 1
),

consent as (
  select
    customer_id,
    max_by(email_consent, updated_at) as email_consent,
    max_by(sms_consent, updated_at) as sms_consent,
    max_by(push_consent, updated_at) as push_consent
  from privacy.consent_events
  group by customer_id
),

web as (
  select
    user_id as customer_id,
    max(session_start_ts) as last_web_session_at,
    count(*) as web_sessions_30d,
    sum(pageviews) as pageviews_30d
  from web.ga4_sessions
  where session_date >= date_sub(current_date(), interval 30 day)
    and user_id is not null
  group by 1
),

rfm as (
  select
    customer_id,
    ntile(5) over (order by date_diff(current_date(), date(last_order_at), day) desc) as r_score,
    ntile(5) over (order by lifetime_orders) as f_score,
    ntile(5) over (order by lifetime_revenue) as m_score
  from orders
)

select
  p.customer_id,
  p.email,
  initcap(p.first_name) as first_name,
  initcap(p.last_name) as last_name,
  p.signup_at,
  p.country_code,
  p.preferred_language,
  p.city,
  p.postal_code,
  p.referral_code_used is not null as was_referred,
  -- commerce
  ifnull(o.lifetime_orders, 0) as lifetime_orders,
  round(ifnull(o.lifetime_revenue, 0), 2) as lifetime_revenue,
  round(o.aov, 2) as aov,
  o.first_order_at,
  o.last_order_at,
  date_diff(current_date(), date(o.last_order_at), day) as days_since_last_order,
  ifnull(o.orders_90d, 0) as orders_90d,
  round(ifnull(o.revenue_365d, 0), 2) as revenue_365d,
  o.recent_orders,
  tc.favourite_category,
  -- subscriptions
  ifnull(s.active_subscriptions, 0) as active_subscriptions,
  s.active_plan,
  ifnull(s.has_past_due, false) as has_past_due,
  round(ifnull(s.current_mrr, 0), 2) as current_mrr,
  s.first_subscription_at,
  s.last_cancellation_at,
  -- support
  ifnull(t.tickets_total, 0) as tickets_total,
  ifnull(t.tickets_30d, 0) as tickets_30d,
  ifnull(t.tickets_open, 0) as tickets_open,
  round(t.avg_csat, 2) as avg_csat,
  t.last_ticket_at,
  t.last_ticket_subject,
  -- voice of customer
  n.last_nps_score,
  n.nps_bucket,
  n.last_nps_at,
  -- consent
  coalesce(cs.email_consent, p.marketing_opt_in, false) as email_consent,
  ifnull(cs.sms_consent, false) as sms_consent,
  ifnull(cs.push_consent, false) as push_consent,
  -- engagement
  w.last_web_session_at,
  ifnull(w.web_sessions_30d, 0) as web_sessions_30d,
  ifnull(w.pageviews_30d, 0) as pageviews_30d,
  -- segmentation
  concat(cast(r.r_score as string), cast(r.f_score as string), cast(r.m_score as string)) as rfm_code,
  case
    when o.lifetime_orders is null then 'prospect'
    when r.r_score >= 4 and r.f_score >= 4 then 'champion'
    when r.r_score >= 3 and r.f_score >= 3 then 'loyal'
    when r.r_score <= 2 and r.f_score >= 3 then 'at_risk'
    when r.r_score <= 2 then 'hibernating'
    else 'needs_attention'
  end as lifecycle_segment,
  current_timestamp() as _refreshed_at
from profile p
left join orders o using (customer_id)
left join top_category tc using (customer_id)
left join subs s using (customer_id)
left join tickets t using (customer_id)
left join nps n using (customer_id)
left join consent cs using (customer_id)
left join web w using (customer_id)
left join rfm r using (customer_id)
where p.email_rank = 1
