-- Hreflang coverage: for each canonical page, which locales have an alternate and which are missing.
WITH expected_locales AS (
  SELECT locale FROM UNNEST(['en-us', 'en-gb', 'de-de', 'fr-fr', 'es-es', 'it-it', 'nl-nl']) AS locale
),
alternates AS (
  SELECT
    p.canonical_url,
    LOWER(h.hreflang) AS locale,
    h.href
  FROM `seo-data.crawl.pages` AS p,
    UNNEST(p.hreflang_links) AS h
  WHERE p.crawl_id = (SELECT MAX(crawl_id) FROM `seo-data.crawl.crawls` WHERE status = 'complete')
    AND p.indexable
)
SELECT
  c.canonical_url,
  ARRAY_AGG(DISTINCT a.locale IGNORE NULLS ORDER BY a.locale) AS present_locales,
  ARRAY(
    SELECT e.locale FROM expected_locales AS e
    WHERE e.locale NOT IN (SELECT x.locale FROM alternates AS x WHERE x.canonical_url = c.canonical_url)
    ORDER BY e.locale
  ) AS missing_locales,
  LOGICAL_OR(a.locale = 'x-default') AS has_x_default
FROM (SELECT DISTINCT canonical_url FROM alternates) AS c
LEFT JOIN alternates AS a USING (canonical_url)
GROUP BY c.canonical_url
ORDER BY ARRAY_LENGTH(missing_locales) DESC
