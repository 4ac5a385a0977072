-- Most common words in support channel messages mentioning outage keywords.
-- Runs daily for the status-page team to spot emerging incident keywords.
-- Stop words are a small hand-maintained list; keep it short.
SELECT
  word,
  COUNT(*) AS occurrences,
  COUNT(DISTINCT m.author_id) AS authors
FROM `chatco-dw.messaging.messages` AS m,
  UNNEST(REGEXP_EXTRACT_ALL(LOWER(m.content), r"[a-z][a-z']{2,}")) AS word
WHERE DATE(m.created_at) = DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  AND m.channel_id IN (
    SELECT channel_id
    FROM `chatco-dw.servers.channels`
    WHERE REGEXP_CONTAINS(name, r'(?i)support|help|status')
  )
  AND REGEXP_CONTAINS(LOWER(m.content), r'\b(down|outage|error|broken|not working|500)\b')
  AND word NOT IN UNNEST(['the', 'and', 'for', 'you', 'are', 'but', 'not', 'this', 'that', 'with', "it's", "can't", 'have'])
GROUP BY word
ORDER BY occurrences DESC
LIMIT 100
