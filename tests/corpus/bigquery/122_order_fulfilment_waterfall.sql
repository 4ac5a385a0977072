-- Order fulfilment waterfall: time spent in each stage from checkout to delivery,
-- with cut-off compliance (orders placed before 14:00 local must ship same day).
-- Grain: warehouse x order_date (local) x shipping method.
-- Saturday orders ship Monday; Friday orders after cut-off ship Monday too.
-- Owner: fulfilment analytics (#wh-ops-data)
-- Changelog:
--   2024-05  added bottleneck stage
--   2024-07  7-day rolling on-time rate
--   2024-09  shipping method mix and backlog alert

WITH orders AS (
  SELECT
    o.order_id,
    o.warehouse_code,
    o.created_at,
    w.timezone,
    DATE(o.created_at, w.timezone) AS order_date_local,
    TIME(o.created_at, w.timezone) AS order_time_local,
    o.shipping_method,
    o.is_priority,
    ARRAY_LENGTH(o.line_items) AS lines,
    (SELECT SUM(li.quantity) FROM UNNEST(o.line_items) AS li) AS units
  FROM orders.outbound_orders AS o
  JOIN reference.warehouses AS w
    ON w.warehouse_code = o.warehouse_code
  WHERE o.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 35 DAY)
    AND o.order_type = 'customer'
),

status_events AS (
  SELECT
    order_id,
    status,
    MIN(status_ts) AS status_ts
  FROM orders.order_status_events
  WHERE status_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 40 DAY)
  GROUP BY order_id, status
),

pivoted AS (
  SELECT *
  FROM status_events
  PIVOT (
    MIN(status_ts) FOR status IN (
      'released' AS released_at,
      'pick_started' AS pick_started_at,
      'picked' AS picked_at,
      'packed' AS packed_at,
      'manifested' AS manifested_at,
      'shipped' AS shipped_at,
      'delivered' AS delivered_at
    )
  )
),

joined AS (
  SELECT
    o.*,
    p.released_at,
    p.pick_started_at,
    p.picked_at,
    p.packed_at,
    p.manifested_at,
    p.shipped_at,
    p.delivered_at,
    -- same-day cut-off: 14:00 local on business days, next business day otherwise
    CASE
      WHEN EXTRACT(DAYOFWEEK FROM o.order_date_local) = 7 THEN DATE_ADD(o.order_date_local, INTERVAL 2 DAY)
      WHEN EXTRACT(DAYOFWEEK FROM o.order_date_local) = 1 THEN DATE_ADD(o.order_date_local, INTERVAL 1 DAY)
      WHEN o.order_time_local < TIME '14:00:00' THEN o.order_date_local
      WHEN EXTRACT(DAYOFWEEK FROM o.order_date_local) = 6 THEN DATE_ADD(o.order_date_local, INTERVAL 3 DAY)
      ELSE DATE_ADD(o.order_date_local, INTERVAL 1 DAY)
    END AS promised_ship_date
  FROM orders AS o
  LEFT JOIN pivoted AS p USING (order_id)
),

durations AS (
  SELECT
    *,
    TIMESTAMP_DIFF(released_at, created_at, MINUTE) AS min_to_release,
    TIMESTAMP_DIFF(pick_started_at, released_at, MINUTE) AS min_release_to_pick,
    TIMESTAMP_DIFF(picked_at, pick_started_at, MINUTE) AS min_picking,
    TIMESTAMP_DIFF(packed_at, picked_at, MINUTE) AS min_pick_to_pack,
    TIMESTAMP_DIFF(manifested_at, packed_at, MINUTE) AS min_pack_to_manifest,
    TIMESTAMP_DIFF(shipped_at, manifested_at, MINUTE) AS min_manifest_to_ship,
    TIMESTAMP_DIFF(delivered_at, shipped_at, HOUR) AS hours_in_transit,
    TIMESTAMP_DIFF(shipped_at, created_at, MINUTE) AS min_click_to_ship,
    DATE(shipped_at, timezone) <= promised_ship_date AS shipped_on_time,
    shipped_at IS NULL AND CURRENT_DATE(timezone) > promised_ship_date AS overdue_unshipped
  FROM joined
),

aggregated AS (
  SELECT
    warehouse_code,
    order_date_local,
    shipping_method,
    COUNT(*) AS orders,
    SUM(units) AS units,
    COUNTIF(is_priority) AS priority_orders,
    COUNTIF(shipped_at IS NOT NULL) AS shipped,
    COUNTIF(shipped_on_time) AS shipped_on_time,
    ROUND(SAFE_DIVIDE(COUNTIF(shipped_on_time), COUNTIF(shipped_at IS NOT NULL)), 4) AS on_time_ship_rate,
    COUNTIF(overdue_unshipped) AS overdue_unshipped,
    -- stage medians (minutes)
    APPROX_QUANTILES(min_to_release, 100 IGNORE NULLS)[OFFSET(50)] AS p50_to_release,
    APPROX_QUANTILES(min_release_to_pick, 100 IGNORE NULLS)[OFFSET(50)] AS p50_release_to_pick,
    APPROX_QUANTILES(min_picking, 100 IGNORE NULLS)[OFFSET(50)] AS p50_picking,
    APPROX_QUANTILES(min_pick_to_pack, 100 IGNORE NULLS)[OFFSET(50)] AS p50_pick_to_pack,
    APPROX_QUANTILES(min_pack_to_manifest, 100 IGNORE NULLS)[OFFSET(50)] AS p50_pack_to_manifest,
    APPROX_QUANTILES(min_manifest_to_ship, 100 IGNORE NULLS)[OFFSET(50)] AS p50_manifest_to_ship,
    APPROX_QUANTILES(min_click_to_ship, 100 IGNORE NULLS)[OFFSET(50)] AS p50_click_to_ship,
    APPROX_QUANTILES(min_click_to_ship, 100 IGNORE NULLS)[OFFSET(90)] AS p90_click_to_ship,
    APPROX_QUANTILES(hours_in_transit, 100 IGNORE NULLS)[OFFSET(50)] AS p50_hours_in_transit
  FROM durations
  GROUP BY warehouse_code, order_date_local, shipping_method
)

SELECT
  a.*,
  -- bottleneck: the stage with the largest median duration
  (
    SELECT AS STRUCT stage, minutes
    FROM UNNEST([
      STRUCT('release' AS stage, a.p50_to_release AS minutes),
      STRUCT('wait_for_pick', a.p50_release_to_pick),
      STRUCT('picking', a.p50_picking),
      STRUCT('wait_for_pack', a.p50_pick_to_pack),
      STRUCT('manifest', a.p50_pack_to_manifest),
      STRUCT('carrier_pickup', a.p50_manifest_to_ship)
    ])
    WHERE minutes IS NOT NULL
    ORDER BY minutes DESC
    LIMIT 1
  ) AS bottleneck_stage,
  a.on_time_ship_rate - LAG(a.on_time_ship_rate) OVER (
    PARTITION BY a.warehouse_code, a.shipping_method ORDER BY a.order_date_local
  ) AS on_time_rate_change_dod,
  AVG(a.on_time_ship_rate) OVER (
    PARTITION BY a.warehouse_code, a.shipping_method
    ORDER BY UNIX_DATE(a.order_date_local)
    RANGE BETWEEN 6 PRECEDING AND CURRENT ROW
  ) AS on_time_rate_7d_avg,
  SUM(a.orders) OVER (PARTITION BY a.warehouse_code, a.order_date_local) AS warehouse_day_orders,
  ROUND(SAFE_DIVIDE(a.orders, SUM(a.orders) OVER (PARTITION BY a.warehouse_code, a.order_date_local)), 4) AS shipping_method_mix,
  ROUND(SAFE_DIVIDE(a.units, a.orders), 2) AS units_per_order,
  a.overdue_unshipped > 0.02 * a.orders AS backlog_alert
FROM aggregated AS a
ORDER BY a.order_date_local DESC, a.warehouse_code, a.shipping_method
