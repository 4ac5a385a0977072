-- Pseudonymise identifiers for the data-sharing export (salted SHA-256, hex-encoded).
-- Partner export for EU markets only; requires email consent.
-- The salt is rotated yearly; keys are NOT comparable across years.
-- Do not add raw identifiers to this select list (privacy review PR-2211).
-- Postal codes are truncated to the first three characters.
-- birth_date is coarsened to the year.
-- stable_bucket_hash is used by the partner for consistent sampling.
SELECT
  TO_HEX(SHA256(CONCAT(b'export-salt-2024:', CAST(customer_id AS BYTES)))) AS customer_key,
  TO_HEX(SHA256(CONCAT(b'export-salt-2024:', CAST(LOWER(TRIM(email)) AS BYTES)))) AS email_key,
  SUBSTR(postal_code, 1, 3) AS postal_prefix,
  DATE_TRUNC(DATE(birth_date), YEAR) AS birth_year,
  country_code,
  FARM_FINGERPRINT(CONCAT('v1:', customer_id)) AS stable_bucket_hash,
  b'\x00\x01' AS schema_version_tag,
  BYTE_LENGTH(CAST(email AS BYTES)) AS email_byte_len,
  signup_channel,
  lifetime_orders
FROM `acme-dw.marts.customer_360_base`
WHERE country_code IN ('DE', 'FR', 'NL', 'BE', 'AT')
  AND email_consent
