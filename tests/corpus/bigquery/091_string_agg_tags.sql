-- Article metadata export for the newsletter builder; last 30 days of published articles.
SELECT
  a.article_id,
  a.title,
  a.published_at,
  STRING_AGG(DISTINCT t.tag_name, ', ' ORDER BY t.tag_name) AS tags,
  STRING_AGG(au.display_name, ' & ' ORDER BY aa.author_order LIMIT 3) AS byline,
  COUNT(DISTINCT t.tag_id) AS tag_count,
  ANY_VALUE(s.section_name) AS section
FROM `media-cms.content.articles` AS a
LEFT JOIN `media-cms.content.article_tags` AS at USING (article_id)
LEFT JOIN `media-cms.content.tags` AS t USING (tag_id)
LEFT JOIN `media-cms.content.article_authors` AS aa USING (article_id)
LEFT JOIN `media-cms.content.authors` AS au USING (author_id)
LEFT JOIN `media-cms.content.sections` AS s
  ON s.section_id = a.section_id
WHERE a.status = 'published'
  AND a.published_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY a.article_id, a.title, a.published_at
ORDER BY a.published_at DESC
