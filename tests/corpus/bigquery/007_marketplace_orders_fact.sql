-- fct_marketplace_orders
-- Grain: one row per order. Combines order header, line items, payments, refunds,
-- shipping and seller info into the main order fact used by finance and ops dashboards.

WITH orders AS (
    SELECT
        o.order_id,
        o.buyer_id,
        o.channel,
        o.currency_code,
        o.created_at,
        o.updated_at,
        o.status AS order_status,
        o.shipping_address.country_code AS ship_country,
        o.shipping_address.postal_code AS ship_postal_code,
        SAFE_CAST(o.promo.discount_minor AS INT64) / 100 AS promo_discount,
        o.promo.code AS promo_code,
        o.is_gift
    FROM raw_orders.orders AS o
    WHERE DATE(o.created_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 400 DAY)
    -- the raw table is append-only CDC; keep the latest version
    QUALIFY ROW_NUMBER() OVER (PARTITION BY o.order_id ORDER BY o.updated_at DESC, o._ingested_at DESC) = 1
),

line_items AS (
    SELECT
        o.order_id,
        li.line_item_id,
        li.listing_id,
        li.seller_id,
        li.quantity,
        li.unit_price_minor / 100 AS unit_price,
        li.quantity * li.unit_price_minor / 100 AS line_gross,
        IFNULL(li.tax_minor, 0) / 100 AS line_tax,
        li.category_path,
        SPLIT(li.category_path, ' > ')[SAFE_OFFSET(0)] AS top_category
    FROM raw_orders.orders AS o,
         UNNEST(o.line_items) AS li
    WHERE DATE(o.created_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 400 DAY)
    QUALIFY ROW_NUMBER() OVER (PARTITION BY li.line_item_id ORDER BY o.updated_at DESC) = 1
),

order_lines AS (
    SELECT
        order_id,
        COUNT(*) AS line_count,
        SUM(quantity) AS units,
        SUM(line_gross) AS items_gross,
        SUM(line_tax) AS items_tax,
        COUNT(DISTINCT seller_id) AS seller_count,
        ARRAY_AGG(DISTINCT top_category IGNORE NULLS) AS top_categories,
        -- the "primary" seller is the one with the largest share of gross
        ARRAY_AGG(seller_id ORDER BY line_gross DESC LIMIT 1)[OFFSET(0)] AS primary_seller_id,
        MAX(line_gross) AS max_line_gross
    FROM line_items
    GROUP BY order_id
),

payments AS (
    SELECT
        order_id,
        SUM(IF(status = 'captured', amount_minor, 0)) / 100 AS captured_amount,
        SUM(IF(status = 'authorized', amount_minor, 0)) / 100 AS authorized_amount,
        COUNTIF(status = 'failed') AS failed_attempts,
        STRING_AGG(DISTINCT payment_method, ',' ORDER BY payment_method) AS payment_methods,
        MIN(IF(status = 'captured', event_at, NULL)) AS first_captured_at
    FROM raw_payments.payment_events
    WHERE DATE(event_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 400 DAY)
    GROUP BY order_id
),

refunds AS (
    SELECT
        order_id,
        SUM(amount_minor) / 100 AS refunded_amount,
        COUNT(*) AS refund_count,
        MAX(created_at) AS last_refund_at,
        LOGICAL_OR(reason = 'fraud') AS refunded_for_fraud
    FROM raw_payments.refunds
    WHERE status = 'succeeded'
    GROUP BY order_id
),

shipments AS (
    SELECT
        order_id,
        MIN(shipped_at) AS first_shipped_at,
        MAX(delivered_at) AS last_delivered_at,
        COUNT(DISTINCT tracking_number) AS parcels,
        ANY_VALUE(carrier) AS carrier,
        SUM(shipping_cost_minor) / 100 AS shipping_cost
    FROM logistics.shipments
    GROUP BY order_id
),

sellers AS (
    SELECT
        seller_id,
        seller_tier,
        country_code AS seller_country,
        onboarded_at
    FROM core.sellers
    WHERE NOT is_deleted
),

fx AS (
    SELECT currency_code, rate_date, usd_per_unit
    FROM reference.daily_fx
),

buyers_first_order AS (
    SELECT buyer_id, MIN(created_at) AS first_order_at
    FROM orders
    WHERE order_status NOT IN ('cancelled', 'draft')
    GROUP BY buyer_id
),

joined AS (
    SELECT
        o.order_id,
        o.buyer_id,
        o.channel,
        o.order_status,
        o.created_at,
        DATE(o.created_at, 'UTC') AS order_date,
        o.currency_code,
        o.ship_country,
        o.ship_postal_code,
        o.promo_code,
        IFNULL(o.promo_discount, 0) AS promo_discount,
        o.is_gift,
        l.line_count,
        l.units,
        l.items_gross,
        l.items_tax,
        l.seller_count,
        l.top_categories,
        l.primary_seller_id,
        s.seller_tier AS primary_seller_tier,
        s.seller_country AS primary_seller_country,
        s.seller_country != o.ship_country AS is_cross_border,
        p.captured_amount,
        p.authorized_amount,
        p.failed_attempts,
        p.payment_methods,
        p.first_captured_at,
        IFNULL(r.refunded_amount, 0) AS refunded_amount,
        IFNULL(r.refund_count, 0) AS refund_count,
        r.last_refund_at,
        IFNULL(r.refunded_for_fraud, FALSE) AS refunded_for_fraud,
        sh.first_shipped_at,
        sh.last_delivered_at,
        sh.parcels,
        sh.carrier,
        sh.shipping_cost,
        IF(o.currency_code = 'USD', 1.0, fx.usd_per_unit) AS usd_rate,
        o.created_at = bfo.first_order_at AS is_first_order
    FROM orders AS o
    LEFT JOIN order_lines AS l USING (order_id)
    LEFT JOIN sellers AS s
        ON s.seller_id = l.primary_seller_id
    LEFT JOIN payments AS p USING (order_id)
    LEFT JOIN refunds AS r USING (order_id)
    LEFT JOIN shipments AS sh USING (order_id)
    LEFT JOIN fx
        ON fx.currency_code = o.currency_code
       AND fx.rate_date = DATE(o.created_at)
    LEFT JOIN buyers_first_order AS bfo
        ON bfo.buyer_id = o.buyer_id
)

SELECT
    order_id,
    buyer_id,
    channel,
    order_status,
    created_at,
    order_date,
    EXTRACT(ISOWEEK FROM order_date) AS order_isoweek,
    EXTRACT(DAYOFWEEK FROM order_date) AS order_dow,
    currency_code,
    ship_country,
    ship_postal_code,
    promo_code,
    is_gift,
    is_first_order,
    is_cross_border,
    line_count,
    units,
    seller_count,
    top_categories,
    primary_seller_id,
    primary_seller_tier,
    primary_seller_country,
    payment_methods,
    failed_attempts,
    carrier,
    parcels,
    -- money, local currency
    items_gross,
    items_tax,
    promo_discount,
    shipping_cost,
    captured_amount,
    refunded_amount,
    items_gross - promo_discount AS net_merchandise_value,
    -- money, USD
    ROUND((items_gross - promo_discount) * usd_rate, 2) AS nmv_usd,
    ROUND(captured_amount * usd_rate, 2) AS captured_usd,
    ROUND(refunded_amount * usd_rate, 2) AS refunded_usd,
    ROUND((captured_amount - refunded_amount) * usd_rate, 2) AS net_captured_usd,
    -- timings
    TIMESTAMP_DIFF(first_captured_at, created_at, MINUTE) AS minutes_to_capture,
    TIMESTAMP_DIFF(first_shipped_at, created_at, HOUR) AS hours_to_ship,
    DATE_DIFF(DATE(last_delivered_at), order_date, DAY) AS days_to_deliver,
    -- flags
    refund_count > 0 AS has_refund,
    refunded_amount >= captured_amount AND captured_amount > 0 AS is_fully_refunded,
    refunded_for_fraud,
    CASE
        WHEN order_status = 'cancelled' THEN 'cancelled'
        WHEN last_delivered_at IS NOT NULL THEN 'delivered'
        WHEN first_shipped_at IS NOT NULL THEN 'in_transit'
        WHEN captured_amount > 0 THEN 'awaiting_shipment'
        ELSE 'pending_payment'
    END AS fulfilment_stage,
    CURRENT_TIMESTAMP() AS _loaded_at
FROM joined
