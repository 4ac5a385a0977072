-- Nearest neighbours by cosine similarity over product embeddings (brute force for a small seed set).
WITH seeds AS (
  SELECT product_id, embedding
  FROM embeddings.product_embeddings_v4
  WHERE product_id IN UNNEST(@seed_product_ids)
),
candidates AS (
  SELECT product_id, embedding
  FROM embeddings.product_embeddings_v4
  WHERE is_active
)
SELECT
  s.product_id AS seed_product_id,
  ARRAY_AGG(
    STRUCT(c.product_id, ROUND(sim, 4) AS similarity)
    ORDER BY sim DESC
    LIMIT 20
  ) AS neighbours
FROM seeds AS s
CROSS JOIN candidates AS c
CROSS JOIN UNNEST([(
  SELECT SUM(a * b) / (SQRT(SUM(a * a)) * SQRT(SUM(b * b)))
  FROM UNNEST(s.embedding) AS a WITH OFFSET AS i
  JOIN UNNEST(c.embedding) AS b WITH OFFSET AS j
    ON i = j
)]) AS sim
WHERE c.product_id != s.product_id
GROUP BY s.product_id
