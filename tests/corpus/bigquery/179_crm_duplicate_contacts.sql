-- Duplicate contact detection in CRM: same normalised email, or same phone + fuzzy name.
WITH contacts AS (
  SELECT
    Id AS contact_id,
    AccountId AS account_id,
    LOWER(TRIM(Email)) AS email_norm,
    REGEXP_REPLACE(Phone, r'[^0-9]', '') AS phone_digits,
    LOWER(CONCAT(IFNULL(FirstName, ''), ' ', IFNULL(LastName, ''))) AS full_name,
    CreatedDate AS created_at,
    LastActivityDate AS last_activity_date
  FROM `revops-prod.salesforce.Contact`
  WHERE NOT IsDeleted
)
SELECT
  a.contact_id AS keep_contact_id,
  b.contact_id AS duplicate_contact_id,
  a.email_norm,
  a.full_name AS name_a,
  b.full_name AS name_b,
  CASE
    WHEN a.email_norm = b.email_norm THEN 'email'
    ELSE 'phone_and_name'
  END AS match_rule,
  a.account_id = b.account_id AS same_account
FROM contacts AS a
JOIN contacts AS b
  ON a.contact_id < b.contact_id
 AND (
      (a.email_norm = b.email_norm AND a.email_norm IS NOT NULL AND a.email_norm != '')
   OR (CHAR_LENGTH(a.phone_digits) >= 8
       AND SUBSTR(a.phone_digits, -8) = SUBSTR(b.phone_digits, -8)
       AND EDIT_DISTANCE(a.full_name, b.full_name) <= 2)
 )
-- keep the older, more recently active record
WHERE a.created_at <= b.created_at
ORDER BY a.email_norm
