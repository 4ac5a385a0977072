-- Publish a cleaned copy of the orders mart for the analytics sandbox:
-- drop PII columns, mask email, and round money columns.
-- Sandbox copy of the orders mart with PII removed.
-- EXCEPT drops PII columns; REPLACE coarsens money and postal codes in place.
-- Trailing comma after the last column is allowed in BigQuery select lists.
-- Refreshed nightly into sandbox.fct_orders_masked.
-- Reviewed by privacy on 2024-05-14.
-- Do not add free-text columns.
SELECT
  * EXCEPT (buyer_email, buyer_phone, ship_address_line1, ship_address_line2, _ingested_at)
    REPLACE (
      ROUND(nmv_usd, 0) AS nmv_usd,
      ROUND(captured_usd, 0) AS captured_usd,
      SUBSTR(ship_postal_code, 1, 2) AS ship_postal_code,
      IF(promo_code IS NULL, NULL, 'REDACTED') AS promo_code
    ),
  REGEXP_REPLACE(buyer_email, r'^[^@]+', '***') AS buyer_email_masked,
FROM `mkt-data-prod.marts.fct_marketplace_orders`
WHERE order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 180 DAY)
  AND order_status != 'cancelled'
