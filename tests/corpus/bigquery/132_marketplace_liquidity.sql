-- Two-sided marketplace liquidity by city and category:
--   supply: active listings, new listings, sellers with stock
--   demand: searches, buyers, contacts
--   liquidity: % of listings that sell within 30 days, time to first contact, sell-through
-- Grain: city x category x ISO week.

with listings as (
    select
        l.listing_id,
        l.seller_id,
        l.city_id,
        l.category_id,
        l.created_at,
        l.published_at,
        l.sold_at,
        l.removed_at,
        l.price_eur,
        l.status,
        date_trunc(date(l.published_at), isoweek) as publish_week
    from core.listings l
    where l.published_at >= timestamp '2024-01-01'
      and l.is_test = false
),

weeks as (
    select wk
    from unnest(generate_date_array(date '2024-01-01', date_trunc(current_date(), isoweek), interval 1 week)) wk
),

active_supply as (
    -- a listing is active in a week if it was published before the week ended and not yet sold/removed
    select
        w.wk,
        l.city_id,
        l.category_id,
        count(*) as active_listings,
        count(distinct l.seller_id) as active_sellers,
        countif(l.publish_week = w.wk) as new_listings,
        approx_quantiles(l.price_eur, 2)[offset(1)] as median_price
    from weeks w
    join listings l
      on date(l.published_at) < date_add(w.wk, interval 7 day)
     and coalesce(date(l.sold_at), date(l.removed_at), date '9999-12-31') >= w.wk
    group by 1, 2, 3
),

demand as (
    select
        date_trunc(date(s.searched_at), isoweek) as wk,
        s.city_id,
        s.category_id,
        count(*) as searches,
        count(distinct s.user_id) as searching_buyers
    from search.searches s
    where s.searched_at >= timestamp '2024-01-01'
      and s.category_id is not null
    group by 1, 2, 3
),

contacts as (
    select
        c.listing_id,
        min(c.created_at) as first_contact_at,
        count(*) as contacts,
        count(distinct c.buyer_id) as contacting_buyers
    from messaging.buyer_seller_threads c
    where c.created_at >= timestamp '2024-01-01'
    group by 1
),

listing_outcomes as (
    select
        l.*,
        ct.first_contact_at,
        ifnull(ct.contacts, 0) as contacts,
        ifnull(ct.contacting_buyers, 0) as contacting_buyers,
        timestamp_diff(ct.first_contact_at, l.published_at, hour) as hours_to_first_contact,
        l.sold_at is not null and timestamp_diff(l.sold_at, l.published_at, day) <= 30 as sold_within_30d,
        date_diff(current_date(), date(l.published_at), day) >= 30 as matured_30d
    from listings l
    left join contacts ct using (listing_id)
),

cohort_liquidity as (
    select
        publish_week as wk,
        city_id,
        category_id,
        count(*) as published_listings,
        countif(matured_30d) as matured_listings,
        countif(matured_30d and sold_within_30d) as sold_30d,
        countif(contacts > 0) as contacted_listings,
        approx_quantiles(hours_to_first_contact, 100 ignore nulls)[offset(50)] as p50_hours_to_contact,
        avg(contacting_buyers) as avg_buyers_per_listing
    from listing_outcomes
    group by 1, 2, 3
),

joined as (
    select
        s.wk,
        s.city_id,
        s.category_id,
        s.active_listings,
        s.active_sellers,
        s.new_listings,
        s.median_price,
        ifnull(d.searches, 0) as searches,
        ifnull(d.searching_buyers, 0) as searching_buyers,
        cl.published_listings,
        cl.matured_listings,
        cl.sold_30d,
        cl.contacted_listings,
        cl.p50_hours_to_contact,
        cl.avg_buyers_per_listing
    from active_supply s
    left join demand d using (wk, city_id, category_id)
    left join cohort_liquidity cl using (wk, city_id, category_id)
)

select
    j.wk as iso_week_start,
    format_date('%G-W%V', j.wk) as iso_week,
    c.city_name,
    cat.category_name,
    j.active_listings,
    j.active_sellers,
    j.new_listings,
    j.median_price,
    j.searches,
    j.searching_buyers,
    round(safe_divide(j.searching_buyers, j.active_listings), 3) as buyers_per_listing,
    round(safe_divide(j.searches, j.active_listings), 2) as searches_per_listing,
    j.published_listings,
    round(safe_divide(j.contacted_listings, j.published_listings), 4) as contact_rate,
    j.p50_hours_to_contact,
    round(j.avg_buyers_per_listing, 2) as avg_buyers_per_listing,
    round(safe_divide(j.sold_30d, j.matured_listings), 4) as sell_through_30d,
    case
        when safe_divide(j.sold_30d, j.matured_listings) >= 0.4 and safe_divide(j.searching_buyers, j.active_listings) >= 2 then 'supply_constrained'
        when safe_divide(j.sold_30d, j.matured_listings) < 0.15 and safe_divide(j.searching_buyers, j.active_listings) < 0.5 then 'demand_constrained'
        when safe_divide(j.sold_30d, j.matured_listings) >= 0.25 then 'healthy'
        else 'watch'
    end as liquidity_state,
    -- week-over-week change of active listings
    safe_divide(
        j.active_listings - lag(j.active_listings) over (partition by j.city_id, j.category_id order by j.wk),
        lag(j.active_listings) over (partition by j.city_id, j.category_id order by j.wk)
    ) as active_listings_wow
from joined j
join core.cities c on c.city_id = j.city_id
join core.categories cat on cat.category_id = j.category_id
where j.active_listings >= 10
order by j.wk desc, c.city_name, cat.category_name
