-- Pack lat/lng grid cells into a single INT64 key with bit shifts (32 bits each),
-- then decode back for QA. Cell size is 0.01 degrees.
WITH cells AS (
  SELECT
    store_id,
    CAST(FLOOR((lat + 90) * 100) AS INT64) AS lat_idx,
    CAST(FLOOR((lng + 180) * 100) AS INT64) AS lng_idx
  FROM `retail-ops.pos.stores`
  WHERE lat IS NOT NULL AND lng IS NOT NULL
)
SELECT
  store_id,
  lat_idx,
  lng_idx,
  (lat_idx << 32) | lng_idx AS cell_key,
  ((lat_idx << 32) | lng_idx) >> 32 AS decoded_lat_idx,
  ((lat_idx << 32) | lng_idx) & 0xFFFFFFFF AS decoded_lng_idx,
  -- parent cell at 10x coarser resolution, and a 4-bit shard derived from the key
  (DIV(lat_idx, 10) << 32) | DIV(lng_idx, 10) AS parent_cell_key,
  (lat_idx ^ lng_idx) & 0xF AS shard,
  lat_idx / 100 - 90 AS cell_lat,
  lng_idx / 100 - 180 AS cell_lng
FROM cells
ORDER BY cell_key
