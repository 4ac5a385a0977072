-- Food delivery operations: order lifecycle timings, courier efficiency and restaurant prep accuracy.
-- Grain: restaurant x day (local). Late = delivered after the promised time shown at checkout.

WITH orders AS (
  SELECT
    o.order_id,
    o.restaurant_id,
    o.customer_id,
    o.city_id,
    o.placed_at,
    o.promised_delivery_at,
    o.subtotal_eur,
    o.delivery_fee_eur,
    o.tip_eur,
    o.status,                        -- 'delivered' | 'cancelled_customer' | 'cancelled_restaurant' | 'cancelled_ops'
    o.cancellation_reason,
    o.is_scheduled,
    o.basket_items
  FROM `foodgo-dw.orders.orders` AS o
  WHERE o.placed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
    AND NOT o.is_test
),

events AS (
  SELECT
    order_id,
    MIN(IF(event_type = 'restaurant_accepted', event_ts, NULL)) AS accepted_at,
    MIN(IF(event_type = 'courier_assigned', event_ts, NULL)) AS courier_assigned_at,
    MIN(IF(event_type = 'courier_arrived_restaurant', event_ts, NULL)) AS courier_at_restaurant_at,
    MIN(IF(event_type = 'food_ready', event_ts, NULL)) AS food_ready_at,
    MIN(IF(event_type = 'picked_up', event_ts, NULL)) AS picked_up_at,
    MIN(IF(event_type = 'delivered', event_ts, NULL)) AS delivered_at,
    COUNTIF(event_type = 'courier_reassigned') AS courier_reassignments,
    ANY_VALUE(IF(event_type = 'restaurant_accepted', SAFE_CAST(JSON_VALUE(payload, '$.estimated_prep_minutes') AS INT64), NULL)) AS estimated_prep_min
  FROM `foodgo-dw.orders.order_events`
  WHERE event_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 31 DAY)
  GROUP BY order_id
),

courier_trips AS (
  SELECT
    t.order_id,
    t.courier_id,
    t.vehicle_type,
    t.pickup_distance_m,
    t.dropoff_distance_m,
    t.batched_with_order_id IS NOT NULL AS is_batched
  FROM `foodgo-dw.logistics.courier_trips` AS t
  WHERE t.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 31 DAY)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY t.order_id ORDER BY t.created_at DESC) = 1
),

ratings AS (
  SELECT
    order_id,
    food_rating,
    delivery_rating,
    ARRAY_TO_STRING(ARRAY(SELECT tag FROM UNNEST(complaint_tags) AS tag ORDER BY tag), ',') AS complaint_tags
  FROM `foodgo-dw.feedback.order_ratings`
),

restaurants AS (
  SELECT
    r.restaurant_id,
    r.name AS restaurant_name,
    r.brand_id,
    r.cuisine,
    r.city_id,
    c.timezone
  FROM `foodgo-dw.catalog.restaurants` AS r
  JOIN `foodgo-dw.reference.cities` AS c USING (city_id)
),

enriched AS (
  SELECT
    o.*,
    r.restaurant_name,
    r.brand_id,
    r.cuisine,
    r.timezone,
    DATE(o.placed_at, r.timezone) AS local_date,
    EXTRACT(HOUR FROM o.placed_at AT TIME ZONE r.timezone) AS local_hour,
    e.* EXCEPT (order_id),
    ct.courier_id,
    ct.vehicle_type,
    ct.pickup_distance_m,
    ct.dropoff_distance_m,
    IFNULL(ct.is_batched, FALSE) AS is_batched,
    rt.food_rating,
    rt.delivery_rating,
    rt.complaint_tags,
    ARRAY_LENGTH(o.basket_items) AS basket_lines,
    (SELECT SUM(bi.quantity) FROM UNNEST(o.basket_items) AS bi) AS basket_units
  FROM orders AS o
  JOIN restaurants AS r USING (restaurant_id)
  LEFT JOIN events AS e USING (order_id)
  LEFT JOIN courier_trips AS ct USING (order_id)
  LEFT JOIN ratings AS rt USING (order_id)
),

timed AS (
  SELECT
    *,
    TIMESTAMP_DIFF(accepted_at, placed_at, SECOND) AS s_to_accept,
    TIMESTAMP_DIFF(food_ready_at, accepted_at, MINUTE) AS actual_prep_min,
    TIMESTAMP_DIFF(food_ready_at, accepted_at, MINUTE) - estimated_prep_min AS prep_estimate_error_min,
    TIMESTAMP_DIFF(picked_up_at, GREATEST(food_ready_at, courier_at_restaurant_at), MINUTE) AS handoff_wait_min,
    TIMESTAMP_DIFF(courier_at_restaurant_at, food_ready_at, MINUTE) AS courier_late_to_ready_food_min,
    TIMESTAMP_DIFF(delivered_at, picked_up_at, MINUTE) AS drive_min,
    TIMESTAMP_DIFF(delivered_at, placed_at, MINUTE) AS click_to_door_min,
    TIMESTAMP_DIFF(delivered_at, promised_delivery_at, MINUTE) AS minutes_vs_promise
  FROM enriched
)

SELECT
  local_date,
  restaurant_id,
  ANY_VALUE(restaurant_name) AS restaurant_name,
  ANY_VALUE(brand_id) AS brand_id,
  ANY_VALUE(cuisine) AS cuisine,
  COUNT(*) AS orders,
  COUNTIF(status = 'delivered') AS delivered,
  COUNTIF(status = 'cancelled_restaurant') AS restaurant_cancels,
  COUNTIF(status = 'cancelled_customer') AS customer_cancels,
  COUNTIF(status = 'cancelled_ops') AS ops_cancels,
  APPROX_TOP_COUNT(cancellation_reason, 3) AS top_cancel_reasons,
  ROUND(SUM(IF(status = 'delivered', subtotal_eur, 0)), 2) AS gmv_eur,
  ROUND(AVG(IF(status = 'delivered', subtotal_eur, NULL)), 2) AS avg_basket_eur,
  ROUND(AVG(basket_units), 2) AS avg_basket_units,
  -- restaurant performance
  APPROX_QUANTILES(s_to_accept, 100 IGNORE NULLS)[OFFSET(50)] AS p50_seconds_to_accept,
  ROUND(AVG(actual_prep_min), 1) AS avg_prep_min,
  ROUND(AVG(ABS(prep_estimate_error_min)), 1) AS avg_abs_prep_error_min,
  ROUND(SAFE_DIVIDE(COUNTIF(prep_estimate_error_min > 5), COUNTIF(prep_estimate_error_min IS NOT NULL)), 4) AS prep_overrun_rate,
  -- courier performance
  ROUND(AVG(handoff_wait_min), 1) AS avg_handoff_wait_min,
  ROUND(AVG(IF(courier_late_to_ready_food_min > 0, courier_late_to_ready_food_min, NULL)), 1) AS avg_food_waiting_for_courier_min,
  ROUND(AVG(drive_min), 1) AS avg_drive_min,
  ROUND(AVG(dropoff_distance_m) / 1000, 2) AS avg_dropoff_km,
  ROUND(SAFE_DIVIDE(COUNTIF(is_batched), COUNTIF(status = 'delivered')), 4) AS batched_share,
  SUM(courier_reassignments) AS courier_reassignments,
  -- customer outcome
  APPROX_QUANTILES(click_to_door_min, 100 IGNORE NULLS)[OFFSET(50)] AS p50_click_to_door_min,
  APPROX_QUANTILES(click_to_door_min, 100 IGNORE NULLS)[OFFSET(90)] AS p90_click_to_door_min,
  ROUND(SAFE_DIVIDE(COUNTIF(minutes_vs_promise > 0), COUNTIF(status = 'delivered')), 4) AS late_rate,
  ROUND(SAFE_DIVIDE(COUNTIF(minutes_vs_promise > 15), COUNTIF(status = 'delivered')), 4) AS very_late_rate,
  ROUND(AVG(food_rating), 2) AS avg_food_rating,
  ROUND(AVG(delivery_rating), 2) AS avg_delivery_rating,
  COUNTIF(REGEXP_CONTAINS(complaint_tags, r'missing_item|wrong_item')) AS order_accuracy_complaints,
  COUNTIF(REGEXP_CONTAINS(complaint_tags, r'cold|spilled')) AS food_quality_complaints,
  ROUND(SUM(tip_eur), 2) AS tips_eur,
  -- peak-hour share helps staffing decisions
  ROUND(SAFE_DIVIDE(COUNTIF(local_hour BETWEEN 18 AND 21), COUNT(*)), 4) AS dinner_peak_share
FROM timed
GROUP BY local_date, restaurant_id
HAVING orders >= 5
ORDER BY local_date DESC, orders DESC
