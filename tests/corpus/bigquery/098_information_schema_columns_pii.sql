-- Find columns that look like PII by name, across all datasets in the project.
SELECT
  c.table_catalog AS project_id,
  c.table_schema AS dataset,
  c.table_name,
  c.column_name,
  c.data_type,
  c.is_partitioning_column,
  o.description AS column_description,
  CASE
    WHEN REGEXP_CONTAINS(LOWER(c.column_name), r'e_?mail') THEN 'email'
    WHEN REGEXP_CONTAINS(LOWER(c.column_name), r'phone|mobile|msisdn') THEN 'phone'
    WHEN REGEXP_CONTAINS(LOWER(c.column_name), r'(first|last|full)_?name') THEN 'name'
    WHEN REGEXP_CONTAINS(LOWER(c.column_name), r'address|street|postal|zip') THEN 'address'
    WHEN REGEXP_CONTAINS(LOWER(c.column_name), r'birth|dob') THEN 'date_of_birth'
    WHEN REGEXP_CONTAINS(LOWER(c.column_name), r'\bip\b|ip_address') THEN 'ip_address'
    WHEN REGEXP_CONTAINS(LOWER(c.column_name), r'iban|card_number|pan\b') THEN 'financial'
  END AS pii_category
FROM `acme-dw`.`region-eu`.INFORMATION_SCHEMA.COLUMNS AS c
LEFT JOIN `acme-dw`.`region-eu`.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS AS o
  ON o.table_schema = c.table_schema
 AND o.table_name = c.table_name
 AND o.field_path = c.column_name
 AND o.description IS NOT NULL
WHERE REGEXP_CONTAINS(LOWER(c.column_name), r'e_?mail|phone|mobile|msisdn|(first|last|full)_?name|address|street|postal|zip|birth|dob|\bip\b|ip_address|iban|card_number')
  AND c.table_schema NOT IN ('sandbox', 'tmp')
ORDER BY dataset, table_name, column_name
