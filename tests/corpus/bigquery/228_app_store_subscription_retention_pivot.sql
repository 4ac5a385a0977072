-- App Store subscription retention table, pivoted: share of subscribers still active
-- after N renewal periods, by product and offer type.
WITH renewals AS (
  SELECT
    product_id,
    IFNULL(offer_type, 'none') AS offer_type,
    original_transaction_id,
    COUNT(*) - 1 AS renewals_count
  FROM `mobile-subs-prod.marts.app_store_transactions`
  WHERE original_purchase_date BETWEEN DATE '2024-01-01' AND DATE '2024-03-31'
    AND transaction_type IN ('initial_buy', 'renewal')
  GROUP BY 1, 2, 3
)
SELECT *
FROM (
  SELECT
    product_id,
    offer_type,
    period,
    COUNTIF(renewals_count >= period) / COUNT(*) AS retained_share
  FROM renewals
  CROSS JOIN UNNEST([1, 2, 3, 6, 12]) AS period
  GROUP BY product_id, offer_type, period
)
PIVOT (ANY_VALUE(retained_share) FOR period IN (1 AS p1, 2 AS p2, 3 AS p3, 6 AS p6, 12 AS p12))
ORDER BY product_id, offer_type
