-- Audience building with set operations: newsletter subscribers who purchased in the last
-- 90 days, excluding anyone in the suppression list, plus VIPs regardless of purchase.
-- BigQuery requires parentheses when different set operators are combined.
(
  (
    SELECT customer_id
    FROM `acme-dw.crm.newsletter_subscribers`
    WHERE status = 'subscribed'

    INTERSECT DISTINCT

    SELECT customer_id
    FROM `acme-dw.commerce.orders`
    WHERE created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
  )

  EXCEPT DISTINCT

  SELECT customer_id
  FROM `acme-dw.crm.suppression_list`
  WHERE suppressed_until IS NULL OR suppressed_until > CURRENT_DATE()
)

UNION DISTINCT

SELECT customer_id
FROM `acme-dw.crm.vip_customers`
WHERE is_active
