-- What changed in the pricing table in the last 24 hours? Compare with time travel.
WITH now_state AS (
  SELECT sku, list_price, currency, is_active
  FROM `pricing-prod.catalog.price_book`
),
yesterday_state AS (
  SELECT sku, list_price, currency, is_active
  FROM `pricing-prod.catalog.price_book`
    FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR)
)
SELECT
  COALESCE(n.sku, y.sku) AS sku,
  CASE
    WHEN y.sku IS NULL THEN 'added'
    WHEN n.sku IS NULL THEN 'removed'
    WHEN n.list_price != y.list_price THEN 'price_changed'
    WHEN n.is_active != y.is_active THEN 'activation_changed'
    ELSE 'other'
  END AS change_type,
  y.list_price AS old_price,
  n.list_price AS new_price,
  ROUND(SAFE_DIVIDE(n.list_price - y.list_price, y.list_price) * 100, 2) AS pct_change,
  y.is_active AS was_active,
  n.is_active AS is_active
FROM now_state AS n
FULL OUTER JOIN yesterday_state AS y
  ON n.sku = y.sku AND n.currency = y.currency
WHERE y.sku IS NULL
   OR n.sku IS NULL
   OR n.list_price != y.list_price
   OR n.is_active != y.is_active
ORDER BY change_type, ABS(IFNULL(n.list_price - y.list_price, 0)) DESC
