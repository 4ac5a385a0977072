-- Nearest store (within 25 km) for each customer address, with distance.
SELECT
  c.customer_id,
  c.postal_code,
  ARRAY_AGG(
    STRUCT(s.store_id, s.store_name, ROUND(ST_DISTANCE(c.geo, s.geo) / 1000, 2) AS km)
    ORDER BY ST_DISTANCE(c.geo, s.geo)
    LIMIT 1
  )[SAFE_OFFSET(0)] AS nearest_store,
  COUNT(s.store_id) AS stores_within_25km
FROM (
  SELECT customer_id, postal_code, ST_GEOGPOINT(lng, lat) AS geo
  FROM `acme-dw.identity.customer_addresses`
  WHERE is_primary AND lat IS NOT NULL
) AS c
LEFT JOIN (
  SELECT store_id, store_name, ST_GEOGPOINT(lng, lat) AS geo
  FROM `retail-ops.pos.stores`
  WHERE is_open
) AS s
  ON ST_DWITHIN(c.geo, s.geo, 25000)
GROUP BY c.customer_id, c.postal_code
