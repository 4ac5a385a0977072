-- Cleaning a CSV import of partner transactions where every column arrives as STRING.
SELECT
  TRIM(partner_ref) AS partner_ref,
  COALESCE(
    SAFE.PARSE_DATE('%Y-%m-%d', txn_date),
    SAFE.PARSE_DATE('%d/%m/%Y', txn_date),
    SAFE.PARSE_DATE('%m-%d-%Y', txn_date)
  ) AS txn_date,
  SAFE.PARSE_TIMESTAMP('%Y-%m-%d %H:%M:%S', CONCAT(txn_date, ' ', txn_time), 'Europe/London') AS txn_ts,
  SAFE_CAST(REPLACE(REPLACE(amount, ',', ''), '£', '') AS NUMERIC) AS amount_gbp,
  SAFE_CAST(quantity AS INT64) AS quantity,
  SAFE_DIVIDE(SAFE_CAST(REPLACE(amount, ',', '') AS NUMERIC), SAFE_CAST(quantity AS INT64)) AS unit_price,
  UPPER(NULLIF(TRIM(currency), '')) AS currency,
  SAFE.SUBSTR(sku, 1, 12) AS sku_prefix,
  SAFE_CAST(is_refund AS BOOL) AS is_refund,
  _FILE_NAME AS source_file,
  SAFE_CAST(amount AS NUMERIC) IS NULL AND amount IS NOT NULL AS amount_parse_failed
FROM `partner-ingest.landing.partner_txn_csv_external`
WHERE partner_ref IS NOT NULL
  AND partner_ref != 'partner_ref'  -- header row repeated in some files
