-- Build outbound webhook payloads (JSON) for orders shipped in the last hour.
-- The integration service POSTs each payload as-is; keep field names stable.
SELECT
  o.order_id,
  TO_JSON_STRING(STRUCT(
    'order.shipped' AS event,
    FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%SZ', s.shipped_at) AS occurred_at,
    STRUCT(
      o.order_id AS id,
      o.buyer_id AS customer_id,
      o.currency_code AS currency,
      ROUND(o.captured_amount, 2) AS amount
    ) AS `order`,
    STRUCT(s.carrier, s.tracking_number, s.tracking_url) AS shipment,
    ARRAY(
      SELECT AS STRUCT li.sku, li.quantity
      FROM UNNEST(o.line_items) AS li
      ORDER BY li.sku
    ) AS items
  )) AS payload,
  TO_JSON_STRING(o.line_items, true) AS debug_pretty_items,
  TO_JSON(STRUCT(o.order_id AS id, s.carrier AS carrier)) AS payload_json_type,
  s.shipped_at
FROM `mkt-data-prod.raw_orders.orders_current` AS o
JOIN `mkt-data-prod.logistics.shipments` AS s USING (order_id)
LEFT JOIN UNNEST(o.webhook_subscriptions) AS sub ON sub.event_type = 'order.shipped'
WHERE s.shipped_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)
  AND sub.endpoint_url IS NOT NULL
