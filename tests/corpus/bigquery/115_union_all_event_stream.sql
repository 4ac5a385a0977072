-- Unified activity stream for a customer timeline in the support console.
SELECT customer_id, created_at AS ts, 'order' AS kind, order_id AS ref, CONCAT('Order placed: $', FORMAT('%.2f', total_usd)) AS summary
FROM commerce.orders
WHERE created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)

UNION ALL

SELECT requester_customer_id, created_at, 'ticket', CAST(ticket_id AS STRING), CONCAT('Ticket: ', subject)
FROM support.tickets
WHERE created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)

UNION ALL

SELECT customer_id, responded_at, 'nps', CAST(response_id AS STRING), FORMAT('NPS score %d', score)
FROM surveys.nps_responses
WHERE responded_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)

UNION ALL

SELECT customer_id, changed_at, 'subscription', subscription_id, CONCAT('Subscription ', old_status, ' -> ', new_status)
FROM billing.subscription_status_changes
WHERE changed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 180 DAY)

ORDER BY customer_id, ts DESC
