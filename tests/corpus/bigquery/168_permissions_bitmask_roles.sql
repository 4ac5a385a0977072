-- Role permissions are stored as a bitmask; expand to readable permission names
-- and find users whose effective permissions exceed their role template.
WITH perms AS (
  SELECT name, bit
  FROM UNNEST([
    STRUCT('read' AS name, 0 AS bit),
    ('write', 1),
    ('delete', 2),
    ('share', 3),
    ('admin_users', 4),
    ('billing', 5),
    ('export', 6),
    ('api_keys', 7)
  ])
)
SELECT
  u.user_id,
  u.role,
  u.permission_mask,
  r.template_mask,
  u.permission_mask & ~r.template_mask AS extra_bits,
  ARRAY(
    SELECT p.name FROM perms AS p
    WHERE (u.permission_mask >> p.bit) & 1 = 1
    ORDER BY p.bit
  ) AS permissions,
  ARRAY(
    SELECT p.name FROM perms AS p
    WHERE (u.permission_mask & ~r.template_mask) & (1 << p.bit) != 0
    ORDER BY p.bit
  ) AS extra_permissions,
  BIT_COUNT(u.permission_mask) AS permission_count
FROM `saas-core-prod.accounts.user_permissions` AS u
JOIN `saas-core-prod.accounts.role_templates` AS r USING (role)
WHERE u.permission_mask & ~r.template_mask != 0
ORDER BY BIT_COUNT(u.permission_mask & ~r.template_mask) DESC
