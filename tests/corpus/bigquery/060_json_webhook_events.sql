-- Parse Stripe-style webhook payloads stored as JSON strings.
SELECT
  JSON_VALUE(body, '$.id') AS event_id,
  JSON_VALUE(body, '$.type') AS event_type,
  TIMESTAMP_SECONDS(CAST(JSON_VALUE(body, '$.created') AS INT64)) AS created_at,
  JSON_VALUE(body, '$.data.object.id') AS object_id,
  JSON_VALUE(body, '$.data.object.customer') AS customer_id,
  SAFE_CAST(JSON_VALUE(body, '$.data.object.amount') AS INT64) AS amount_minor,
  UPPER(JSON_VALUE(body, '$.data.object.currency')) AS currency,
  JSON_VALUE(body, '$.data.object.status') AS status,
  JSON_QUERY(body, '$.data.object.metadata') AS metadata_json,
  JSON_VALUE(body, '$.data.object.metadata.order_id') AS order_id,
  ARRAY(
    SELECT JSON_VALUE(line, '$.price.id')
    FROM UNNEST(JSON_QUERY_ARRAY(body, '$.data.object.lines.data')) AS line
  ) AS price_ids,
  JSON_EXTRACT_SCALAR(body, '$.request.idempotency_key') AS idempotency_key,
  ARRAY_LENGTH(JSON_EXTRACT_ARRAY(body, '$.data.object.refunds.data')) AS refund_count,
  received_at
FROM `pay-core-analytics.webhooks.raw_events`
WHERE DATE(received_at) = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  AND JSON_VALUE(body, '$.livemode') = 'true'
QUALIFY ROW_NUMBER() OVER (PARTITION BY JSON_VALUE(body, '$.id') ORDER BY received_at) = 1
