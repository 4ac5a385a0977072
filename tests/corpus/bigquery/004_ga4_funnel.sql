with events as (
  select
    user_pseudo_id,
    event_name,
    timestamp_micros(event_timestamp) as ts,
    (select value.int_value from unnest(event_params) where key = 'ga_session_id') as session_id
  from `acme-web-prod.analytics_287163540.events_*`
  where _table_suffix between '20240101' and '20240131'
    and event_name in ('session_start', 'view_item', 'add_to_cart', 'begin_checkout', 'add_payment_info', 'purchase')
),
steps as (
  select
    user_pseudo_id,
    session_id,
    min(if(event_name = 'session_start', ts, null)) as t_session,
    min(if(event_name = 'view_item', ts, null)) as t_view,
    min(if(event_name = 'add_to_cart', ts, null)) as t_cart,
    min(if(event_name = 'begin_checkout', ts, null)) as t_checkout,
    min(if(event_name = 'add_payment_info', ts, null)) as t_payment,
    min(if(event_name = 'purchase', ts, null)) as t_purchase
  from events
  group by 1, 2
)
select
  count(*) as sessions,
  countif(t_view is not null) as viewed_item,
  countif(t_cart >= t_view) as added_to_cart,
  countif(t_checkout >= t_cart) as began_checkout,
  countif(t_payment >= t_checkout) as added_payment,
  countif(t_purchase >= t_payment) as purchased,
  round(safe_divide(countif(t_purchase >= t_payment), countif(t_view is not null)) * 100, 2) as view_to_purchase_pct
from steps
