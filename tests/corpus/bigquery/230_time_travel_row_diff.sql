-- Audit: rows changed in the customer dimension during the last 6 hours, using time travel
-- and EXCEPT DISTINCT in both directions (rows added/changed vs rows removed/changed).
WITH before_state AS (
  SELECT * EXCEPT (_loaded_at)
  FROM `acme-dw.marts.dim_customer`
    FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 6 HOUR)
),
after_state AS (
  SELECT * EXCEPT (_loaded_at)
  FROM `acme-dw.marts.dim_customer`
),
added_or_changed AS (
  SELECT * FROM after_state
  EXCEPT DISTINCT
  SELECT * FROM before_state
),
removed_or_changed AS (
  SELECT * FROM before_state
  EXCEPT DISTINCT
  SELECT * FROM after_state
)
SELECT
  'after' AS version,
  a.customer_id,
  TO_JSON_STRING(a) AS row_json,
  b.customer_id IS NULL AS is_new_row
FROM added_or_changed AS a
LEFT JOIN removed_or_changed AS b USING (customer_id)

UNION ALL

SELECT
  'before',
  r.customer_id,
  TO_JSON_STRING(r),
  FALSE
FROM removed_or_changed AS r

ORDER BY customer_id, version
