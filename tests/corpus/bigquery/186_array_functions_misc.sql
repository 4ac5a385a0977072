-- Tag hygiene report using array functions: dedupe, sort, intersect with an allow-list.
WITH allowed AS (
  SELECT ['sale', 'new', 'clearance', 'eco', 'bestseller', 'limited'] AS tags
)
SELECT
  p.product_id,
  p.tags AS raw_tags,
  ARRAY(SELECT DISTINCT LOWER(TRIM(t)) FROM UNNEST(p.tags) AS t WHERE TRIM(t) != '' ORDER BY 1) AS clean_tags,
  ARRAY(SELECT t FROM UNNEST(p.tags) AS t WHERE LOWER(t) IN UNNEST(a.tags)) AS allowed_tags,
  ARRAY(SELECT t FROM UNNEST(p.tags) AS t WHERE LOWER(t) NOT IN UNNEST(a.tags)) AS unknown_tags,
  ARRAY_LENGTH(p.tags) AS n_tags,
  ARRAY_TO_STRING(p.tags, '|') AS tags_pipe,
  ARRAY_CONCAT(p.tags, ['catalog_v2']) AS tags_plus_marker,
  ARRAY_REVERSE(p.tags) AS tags_reversed,
  GENERATE_ARRAY(1, ARRAY_LENGTH(p.tags)) AS positions,
  'sale' IN UNNEST(p.tags) AS is_on_sale,
  ARRAY_FIRST(p.tags) AS first_tag,
  ARRAY_LAST(p.tags) AS last_tag
FROM `acme-dw.catalog.products` AS p
CROSS JOIN allowed AS a
WHERE ARRAY_LENGTH(p.tags) > 0
