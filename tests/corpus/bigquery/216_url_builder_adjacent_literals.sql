-- Build deep links for the CRM export. Long URL templates are split over adjacent string
-- literals (concatenated at parse time), the same way the app team writes them.
SELECT
  o.order_id,
  o.buyer_id,
  CONCAT(
    'https://www.ourmarket.com'
    '/account/orders/',
    o.order_id,
    '?utm_source=crm' '&utm_medium=email' '&utm_campaign=review_request'
  ) AS review_link,
  FORMAT(
    'https://admin.ourmarket.com/orders/%s'
    '/timeline?view=%s',
    o.order_id,
    IF(o.has_refund, 'refunds', 'default')
  ) AS admin_link,
  REGEXP_CONTAINS(o.promo_code, r'^[A-Z]{3,}' r'-\d{2,4}$') AS is_campaign_code
FROM `mkt-data-prod.marts.fct_marketplace_orders` AS o
WHERE o.order_date = DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY)
  AND o.fulfilment_stage = 'delivered'
  AND NOT o.has_refund
ORDER BY o.order_id
