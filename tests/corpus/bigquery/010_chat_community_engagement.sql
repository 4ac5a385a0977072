-- Community platform: daily server (guild) health metrics.
-- One row per server per day. Used by the trust & growth teams.

WITH msgs AS (
  SELECT
    m.server_id,
    m.channel_id,
    m.author_id,
    m.message_id,
    m.created_at,
    DATE(m.created_at) AS d,
    m.reply_to_message_id,
    m.thread_id,
    ARRAY_LENGTH(m.attachments) AS n_attachments,
    ARRAY_LENGTH(m.mentions) AS n_mentions,
    CHAR_LENGTH(m.content) AS content_len,
    m.is_bot
  FROM messaging.messages AS m
  WHERE DATE(m.created_at) BETWEEN @start_date AND @end_date
),

reactions AS (
  SELECT
    r.server_id,
    DATE(r.created_at) AS d,
    COUNT(*) AS reactions,
    COUNT(DISTINCT r.user_id) AS reacting_users,
    APPROX_TOP_COUNT(r.emoji, 3) AS top_emojis
  FROM messaging.reactions AS r
  WHERE DATE(r.created_at) BETWEEN @start_date AND @end_date
  GROUP BY 1, 2
),

voice AS (
  SELECT
    server_id,
    DATE(joined_at) AS d,
    COUNT(DISTINCT user_id) AS voice_users,
    SUM(TIMESTAMP_DIFF(IFNULL(left_at, TIMESTAMP_ADD(joined_at, INTERVAL 4 HOUR)), joined_at, SECOND)) / 60 AS voice_minutes
  FROM voice.voice_sessions
  WHERE DATE(joined_at) BETWEEN @start_date AND @end_date
  GROUP BY 1, 2
),

membership AS (
  SELECT
    server_id,
    DATE(event_at) AS d,
    COUNTIF(event_type = 'join') AS joins,
    COUNTIF(event_type = 'leave') AS leaves,
    COUNTIF(event_type = 'kick') AS kicks,
    COUNTIF(event_type = 'ban') AS bans
  FROM servers.membership_events
  WHERE DATE(event_at) BETWEEN @start_date AND @end_date
  GROUP BY 1, 2
),

-- first response time for messages that are questions in help channels
help_questions AS (
  SELECT
    q.server_id,
    q.d,
    q.message_id,
    q.created_at AS asked_at,
    MIN(a.created_at) AS first_answer_at
  FROM msgs AS q
  JOIN servers.channels AS c
    ON c.channel_id = q.channel_id
   AND c.channel_kind IN ('forum', 'help')
  LEFT JOIN msgs AS a
    ON a.reply_to_message_id = q.message_id
   AND a.author_id != q.author_id
   AND NOT a.is_bot
  WHERE q.reply_to_message_id IS NULL
    AND NOT q.is_bot
  GROUP BY 1, 2, 3, 4
),

help_stats AS (
  SELECT
    server_id,
    d,
    COUNT(*) AS help_questions,
    COUNTIF(first_answer_at IS NOT NULL) AS answered,
    APPROX_QUANTILES(TIMESTAMP_DIFF(first_answer_at, asked_at, MINUTE), 4)[OFFSET(2)] AS median_minutes_to_answer
  FROM help_questions
  GROUP BY 1, 2
),

msg_stats AS (
  SELECT
    server_id,
    d,
    COUNTIF(NOT is_bot) AS human_messages,
    COUNTIF(is_bot) AS bot_messages,
    COUNT(DISTINCT IF(NOT is_bot, author_id, NULL)) AS active_posters,
    COUNT(DISTINCT channel_id) AS active_channels,
    COUNT(DISTINCT thread_id) AS active_threads,
    COUNTIF(reply_to_message_id IS NOT NULL) AS replies,
    SUM(n_attachments) AS attachments,
    SUM(n_mentions) AS mentions,
    AVG(content_len) AS avg_len,
    ARRAY_AGG(author_id ORDER BY created_at LIMIT 1)[OFFSET(0)] AS first_poster_of_day
  FROM msgs
  GROUP BY 1, 2
),

poster_concentration AS (
  -- concentration: share of human messages written by the top 10% of posters
  SELECT
    server_id,
    d,
    SAFE_DIVIDE(
      SUM(IF(poster_rank <= GREATEST(1, CAST(CEIL(n_posters * 0.1) AS INT64)), n_msgs, 0)),
      SUM(n_msgs)
    ) AS top10pct_share
  FROM (
    SELECT
      server_id,
      d,
      author_id,
      COUNT(*) AS n_msgs,
      RANK() OVER (PARTITION BY server_id, d ORDER BY COUNT(*) DESC) AS poster_rank,
      COUNT(*) OVER (PARTITION BY server_id, d) AS n_posters
    FROM msgs
    WHERE NOT is_bot
    GROUP BY server_id, d, author_id
  )
  GROUP BY server_id, d
),

spine AS (
  SELECT server_id, d FROM msg_stats
  UNION DISTINCT
  SELECT server_id, d FROM voice
  UNION DISTINCT
  SELECT server_id, d FROM membership
)

SELECT
  sp.server_id,
  sp.d AS activity_date,
  s.name AS server_name,
  s.is_partnered,
  s.member_count_snapshot,
  IFNULL(ms.human_messages, 0) AS human_messages,
  IFNULL(ms.bot_messages, 0) AS bot_messages,
  IFNULL(ms.active_posters, 0) AS active_posters,
  IFNULL(ms.active_channels, 0) AS active_channels,
  IFNULL(ms.active_threads, 0) AS active_threads,
  SAFE_DIVIDE(ms.replies, ms.human_messages) AS reply_ratio,
  IFNULL(rx.reactions, 0) AS reactions,
  rx.top_emojis,
  IFNULL(v.voice_users, 0) AS voice_users,
  ROUND(IFNULL(v.voice_minutes, 0), 1) AS voice_minutes,
  IFNULL(mb.joins, 0) AS joins,
  IFNULL(mb.leaves, 0) AS leaves,
  IFNULL(mb.kicks, 0) + IFNULL(mb.bans, 0) AS removals,
  IFNULL(mb.joins, 0) - IFNULL(mb.leaves, 0) - IFNULL(mb.kicks, 0) - IFNULL(mb.bans, 0) AS net_member_change,
  hs.help_questions,
  SAFE_DIVIDE(hs.answered, hs.help_questions) AS help_answer_rate,
  hs.median_minutes_to_answer,
  ROUND(pc.top10pct_share, 3) AS top10pct_poster_share,
  SAFE_DIVIDE(ms.active_posters, s.member_count_snapshot) AS poster_penetration,
  AVG(ms.active_posters) OVER (
    PARTITION BY sp.server_id ORDER BY UNIX_DATE(sp.d) RANGE BETWEEN 6 PRECEDING AND CURRENT ROW
  ) AS active_posters_7d_avg
FROM spine AS sp
JOIN servers.servers AS s
  ON s.server_id = sp.server_id
LEFT JOIN msg_stats AS ms USING (server_id, d)
LEFT JOIN reactions AS rx USING (server_id, d)
LEFT JOIN voice AS v USING (server_id, d)
LEFT JOIN membership AS mb USING (server_id, d)
LEFT JOIN help_stats AS hs USING (server_id, d)
LEFT JOIN poster_concentration AS pc USING (server_id, d)
WHERE s.deleted_at IS NULL
