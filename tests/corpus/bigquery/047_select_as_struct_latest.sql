-- Latest status per ticket as a struct column, plus full status history array.
SELECT
  t.ticket_id,
  t.created_at,
  (
    SELECT AS STRUCT h.status, h.changed_at, h.changed_by
    FROM support.ticket_status_history AS h
    WHERE h.ticket_id = t.ticket_id
    ORDER BY h.changed_at DESC
    LIMIT 1
  ) AS latest_status,
  ARRAY(
    SELECT AS STRUCT h.status, h.changed_at
    FROM support.ticket_status_history AS h
    WHERE h.ticket_id = t.ticket_id
    ORDER BY h.changed_at
  ) AS status_history,
  ARRAY(
    SELECT AS VALUE tag
    FROM UNNEST(t.tags) AS tag
    WHERE tag NOT LIKE 'internal_%'
    ORDER BY tag
  ) AS public_tags
FROM support.tickets AS t
WHERE t.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
ORDER BY t.created_at DESC
