-- Customer value tiers used by the loyalty programme.
SELECT
  customer_id,
  revenue_365d,
  orders_365d,
  CASE
    WHEN revenue_365d >= 5000 OR orders_365d >= 50 THEN 'platinum'
    WHEN revenue_365d >= 1500 OR orders_365d >= 20 THEN 'gold'
    WHEN revenue_365d >= 300 OR orders_365d >= 6 THEN 'silver'
    WHEN revenue_365d > 0 THEN 'bronze'
    ELSE 'inactive'
  END AS tier,
  CASE country_code
    WHEN 'US' THEN 'NA'
    WHEN 'CA' THEN 'NA'
    WHEN 'MX' THEN 'LATAM'
    WHEN 'BR' THEN 'LATAM'
    WHEN 'GB' THEN 'EMEA'
    WHEN 'DE' THEN 'EMEA'
    WHEN 'FR' THEN 'EMEA'
    ELSE 'ROW'
  END AS sales_region,
  IF(email_consent AND NOT is_employee, TRUE, FALSE) AS mailable,
  COALESCE(NULLIF(TRIM(preferred_name), ''), first_name, 'there') AS greeting_name
FROM `acme-dw.marts.customer_360_base`
WHERE NOT is_deleted
