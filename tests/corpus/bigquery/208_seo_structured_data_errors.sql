-- Structured data validation: pages whose JSON-LD is missing required Product fields.
SELECT
  p.url,
  block_index,
  JSON_VALUE(block, '$."@type"') AS schema_type,
  JSON_VALUE(block, '$.name') IS NULL AS missing_name,
  JSON_QUERY(block, '$.offers') IS NULL AS missing_offers,
  JSON_VALUE(block, '$.offers.price') IS NULL AND JSON_VALUE(block, '$.offers[0].price') IS NULL AS missing_price,
  JSON_VALUE(block, '$.offers.priceCurrency') IS NULL AND JSON_VALUE(block, '$.offers[0].priceCurrency') IS NULL AS missing_currency,
  JSON_VALUE(block, '$.aggregateRating.ratingValue') AS rating_value,
  SAFE_CAST(JSON_VALUE(block, '$.aggregateRating.reviewCount') AS INT64) AS review_count
FROM `seo-data.crawl.pages` AS p,
  UNNEST(JSON_QUERY_ARRAY(p.jsonld_raw, '$')) AS block WITH OFFSET AS block_index
WHERE p.crawl_id = (SELECT MAX(crawl_id) FROM `seo-data.crawl.crawls` WHERE status = 'complete')
  AND JSON_VALUE(block, '$."@type"') = 'Product'
  AND (
    JSON_VALUE(block, '$.name') IS NULL
    OR JSON_QUERY(block, '$.offers') IS NULL
    OR (JSON_VALUE(block, '$.offers.price') IS NULL AND JSON_VALUE(block, '$.offers[0].price') IS NULL)
  )
ORDER BY p.url
