-- ad server: line-item delivery pacing and forecast to end of flight
-- grain: line_item_id (as of the current hour)
-- pacing_index = delivered / expected; expected follows the pacing mode curve.
-- consumed by the trafficking team's morning alert and the pacing dashboard.
-- changelog:
--   v3: front-loaded pacing curve
--   v4: budget status + remaining budget per hour
--   v5: stalled detection (no delivery for 3h)
with line_items as (
    select
        li.line_item_id
        , li.order_id
        , li.advertiser_id
        , li.name as line_item_name
        , li.goal_type                 -- 'impressions' | 'clicks' | 'spend'
        , li.goal_quantity
        , li.budget_micros / 1e6 as budget
        , li.start_ts
        , li.end_ts
        , li.pacing_mode               -- 'even' | 'asap' | 'front_loaded'
        , li.priority
        , li.status
        , li.targeting.geo_countries as geo_countries
        , li.targeting.device_types as device_types
    from `adserver-prod.config.line_items` li
    where li.status in ('active', 'paused')
      and li.end_ts > timestamp_sub(current_timestamp(), interval 1 day)
      and li.start_ts <= current_timestamp()
)
, hourly as (
    select
        line_item_id
        , timestamp_trunc(event_ts, hour) as hour_ts
        , countif(event_type = 'impression') as impressions
        , countif(event_type = 'click') as clicks
        , sum(if(event_type = 'impression', cost_micros, 0)) / 1e6 as spend
        , countif(event_type = 'impression' and is_viewable) as viewable_impressions
    from `adserver-prod.events.ad_events_*`
    where _table_suffix >= format_date('%Y%m%d', date_sub(current_date(), interval 60 day))
      and event_type in ('impression', 'click')
    group by 1, 2
)
, delivered as (
    select
        h.line_item_id
        , sum(h.impressions) as impressions
        , sum(h.clicks) as clicks
        , sum(h.spend) as spend
        , sum(h.viewable_impressions) as viewable_impressions
        , sum(if(h.hour_ts >= timestamp_sub(timestamp_trunc(current_timestamp(), hour), interval 24 hour), h.impressions, 0)) as impressions_24h
        , sum(if(h.hour_ts >= timestamp_sub(timestamp_trunc(current_timestamp(), hour), interval 24 hour), h.clicks, 0)) as clicks_24h
        , sum(if(h.hour_ts >= timestamp_sub(timestamp_trunc(current_timestamp(), hour), interval 24 hour), h.spend, 0)) as spend_24h
        , max(h.hour_ts) as last_delivery_hour
    from hourly h
    join line_items li
      on li.line_item_id = h.line_item_id
     and h.hour_ts between li.start_ts and li.end_ts
    group by 1
)
, progress as (
    select
        li.*
        , ifnull(d.impressions, 0) as impressions
        , ifnull(d.clicks, 0) as clicks
        , ifnull(d.spend, 0) as spend
        , ifnull(d.viewable_impressions, 0) as viewable_impressions
        , ifnull(d.impressions_24h, 0) as impressions_24h
        , ifnull(d.clicks_24h, 0) as clicks_24h
        , ifnull(d.spend_24h, 0) as spend_24h
        , d.last_delivery_hour
        , timestamp_diff(current_timestamp(), li.start_ts, second) / timestamp_diff(li.end_ts, li.start_ts, second) as flight_elapsed_pct
        , greatest(timestamp_diff(li.end_ts, current_timestamp(), hour), 0) as hours_remaining
        , case li.goal_type
            when 'impressions' then ifnull(d.impressions, 0)
            when 'clicks' then ifnull(d.clicks, 0)
            when 'spend' then ifnull(d.spend, 0)
          end as delivered_units
        , case li.goal_type
            when 'impressions' then ifnull(d.impressions_24h, 0)
            when 'clicks' then ifnull(d.clicks_24h, 0)
            when 'spend' then ifnull(d.spend_24h, 0)
          end as delivered_units_24h
    from line_items li
    left join delivered d using (line_item_id)
)
, expected as (
    select
        *
        , goal_quantity * case pacing_mode
            when 'asap' then 1.0
            -- front loaded: 1.5x even pacing early, converging to 1.0 at end
            when 'front_loaded' then least(1.0, flight_elapsed_pct * (1.5 - 0.5 * flight_elapsed_pct))
            else least(1.0, flight_elapsed_pct)
          end as expected_units
    from progress
)
select
    line_item_id
    , order_id
    , advertiser_id
    , line_item_name
    , goal_type
    , pacing_mode
    , priority
    , status
    , start_ts
    , end_ts
    , round(flight_elapsed_pct * 100, 1) as flight_elapsed_pct
    , hours_remaining
    , goal_quantity
    , delivered_units
    , round(expected_units) as expected_units
    , round(safe_divide(delivered_units, expected_units), 3) as pacing_index
    , round(safe_divide(delivered_units, goal_quantity) * 100, 1) as goal_pct
    -- naive forecast: last 24h run-rate extrapolated over the remaining hours
    , round(delivered_units + delivered_units_24h / 24 * hours_remaining) as forecast_units
    , round(safe_divide(delivered_units + delivered_units_24h / 24 * hours_remaining, goal_quantity), 3) as forecast_goal_ratio
    , case
        when status = 'paused' then 'paused'
        when last_delivery_hour is null then 'not_delivering'
        when timestamp_diff(current_timestamp(), last_delivery_hour, hour) > 3 then 'stalled'
        when safe_divide(delivered_units, expected_units) < 0.8 then 'under_pacing'
        when safe_divide(delivered_units, expected_units) > 1.2 and pacing_mode = 'even' then 'over_pacing'
        else 'on_track'
      end as pacing_status
    , impressions
    , clicks
    , round(spend, 2) as spend
    , round(safe_divide(clicks, impressions) * 100, 3) as ctr_pct
    , round(safe_divide(spend, impressions) * 1000, 3) as ecpm
    , round(safe_divide(viewable_impressions, impressions), 3) as viewability
    , array_to_string(geo_countries, ',') as geo_countries
    , array_to_string(device_types, ',') as device_types
    , round(safe_divide(budget - spend, greatest(hours_remaining, 1)), 2) as remaining_budget_per_hour
    , round(safe_divide(spend_24h, 24), 2) as spend_per_hour_24h
    , case
        when goal_type = 'spend' then null
        when budget is null or budget = 0 then null
        when spend >= budget then 'budget_exhausted'
        when spend + spend_24h / 24 * hours_remaining > budget then 'budget_will_cap'
        else 'budget_ok'
      end as budget_status
    , round(safe_divide(clicks_24h, impressions_24h) * 100, 3) as ctr_pct_24h
    , date_diff(date(end_ts), current_date(), day) as days_remaining
    , current_timestamp() as computed_at
from expected
order by
    case pacing_status when 'stalled' then 0 when 'not_delivering' then 1 when 'under_pacing' then 2 else 3 end,
    priority,
    end_ts
