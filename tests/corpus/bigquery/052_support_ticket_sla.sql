-- Support SLA report: first response and resolution times in business hours,
-- per priority and team, with breach flags. Business hours: Mon-Fri 09:00-18:00 in the team's timezone.
-- Holidays are not excluded yet (tracked in DATA-1432).
-- Tickets created via the API test channel are excluded.
-- Changelog:
--   2023-11  switched to business-minute clipping per hour bucket
--   2024-03  added reopen rate
--   2024-06  added channel split and double-breach count
--   2024-08  CUBE subtotals for the exec summary tab
--   2024-09  excluded api_test channel

WITH tickets AS (
  SELECT
    t.ticket_id,
    t.priority,
    t.channel,
    t.group_name AS team,
    t.created_at,
    t.solved_at,
    t.status,
    t.requester_id,
    t.organization_id,
    g.timezone AS team_tz
  FROM support.tickets AS t
  JOIN support.groups AS g
    ON g.group_name = t.group_name
  WHERE t.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)
    AND t.via_channel != 'api_test'
),

first_public_reply AS (
  SELECT
    c.ticket_id,
    MIN(c.created_at) AS first_reply_at
  FROM support.ticket_comments AS c
  JOIN support.agents AS a
    ON a.agent_id = c.author_id
  WHERE c.is_public
  GROUP BY c.ticket_id
),

reopens AS (
  SELECT
    ticket_id,
    COUNTIF(old_value = 'solved' AND new_value IN ('open', 'pending')) AS reopen_count
  FROM support.ticket_field_changes
  WHERE field_name = 'status'
  GROUP BY ticket_id
),

sla_targets AS (
  -- targets from the support policy doc (v2024.1); hours are business hours
  -- first response time (frt) and full resolution
  SELECT * FROM UNNEST([
    STRUCT('urgent' AS priority, 1 AS frt_hours, 8 AS resolution_hours),
    STRUCT('high', 4, 24),
    STRUCT('normal', 8, 72),
    STRUCT('low', 24, 120)
  ])
),

-- minute-level business-time calculation via hourly buckets
hour_grid AS (
  SELECT
    t.ticket_id,
    h AS hour_start
  FROM tickets AS t,
  UNNEST(GENERATE_TIMESTAMP_ARRAY(
    TIMESTAMP_TRUNC(t.created_at, HOUR),
    TIMESTAMP_TRUNC(COALESCE(t.solved_at, CURRENT_TIMESTAMP()), HOUR),
    INTERVAL 1 HOUR
  )) AS h
),

business_hours AS (
  SELECT
    g.ticket_id,
    g.hour_start,
    EXTRACT(DAYOFWEEK FROM g.hour_start AT TIME ZONE t.team_tz) BETWEEN 2 AND 6
      AND EXTRACT(HOUR FROM g.hour_start AT TIME ZONE t.team_tz) BETWEEN 9 AND 17 AS is_business_hour
  FROM hour_grid AS g
  JOIN tickets AS t USING (ticket_id)
),

elapsed AS (
  SELECT
    t.ticket_id,
    -- count the business minutes between two timestamps by clipping each business hour
    SUM(IF(b.is_business_hour,
      GREATEST(0, TIMESTAMP_DIFF(
        LEAST(TIMESTAMP_ADD(b.hour_start, INTERVAL 1 HOUR), COALESCE(f.first_reply_at, CURRENT_TIMESTAMP())),
        GREATEST(b.hour_start, t.created_at),
        MINUTE)), 0)) AS frt_business_minutes,
    SUM(IF(b.is_business_hour,
      GREATEST(0, TIMESTAMP_DIFF(
        LEAST(TIMESTAMP_ADD(b.hour_start, INTERVAL 1 HOUR), COALESCE(t.solved_at, CURRENT_TIMESTAMP())),
        GREATEST(b.hour_start, t.created_at),
        MINUTE)), 0)) AS resolution_business_minutes
  FROM tickets AS t
  LEFT JOIN first_public_reply AS f USING (ticket_id)
  JOIN business_hours AS b USING (ticket_id)
  GROUP BY t.ticket_id
),

ticket_level AS (
  SELECT
    t.*,
    f.first_reply_at,
    e.frt_business_minutes,
    e.resolution_business_minutes,
    IFNULL(r.reopen_count, 0) AS reopen_count,
    s.frt_hours,
    s.resolution_hours,
    e.frt_business_minutes > s.frt_hours * 60 AS frt_breached,
    e.resolution_business_minutes > s.resolution_hours * 60 AS resolution_breached,
    f.first_reply_at IS NULL AND t.status NOT IN ('solved', 'closed') AS awaiting_first_reply
  FROM tickets AS t
  LEFT JOIN first_public_reply AS f USING (ticket_id)
  LEFT JOIN elapsed AS e USING (ticket_id)
  LEFT JOIN reopens AS r USING (ticket_id)
  LEFT JOIN sla_targets AS s USING (priority)
)

SELECT
  DATE_TRUNC(DATE(created_at), WEEK(MONDAY)) AS week_start,
  team,
  priority,
  COUNT(*) AS tickets,
  COUNTIF(status IN ('solved', 'closed')) AS solved,
  COUNTIF(awaiting_first_reply) AS awaiting_first_reply,
  ROUND(AVG(frt_business_minutes) / 60, 2) AS avg_frt_bh,
  APPROX_QUANTILES(frt_business_minutes, 100)[OFFSET(50)] / 60 AS p50_frt_bh,
  APPROX_QUANTILES(frt_business_minutes, 100)[OFFSET(90)] / 60 AS p90_frt_bh,
  ROUND(AVG(IF(status IN ('solved', 'closed'), resolution_business_minutes, NULL)) / 60, 2) AS avg_resolution_bh,
  ROUND(1 - SAFE_DIVIDE(COUNTIF(frt_breached), COUNT(*)), 4) AS frt_sla_attainment,
  ROUND(1 - SAFE_DIVIDE(COUNTIF(resolution_breached AND status IN ('solved', 'closed')), COUNTIF(status IN ('solved', 'closed'))), 4) AS resolution_sla_attainment,
  ROUND(SAFE_DIVIDE(COUNTIF(reopen_count > 0), COUNTIF(status IN ('solved', 'closed'))), 4) AS reopen_rate,
  COUNT(DISTINCT organization_id) AS organizations,
  COUNTIF(channel = 'email') AS email_tickets,
  COUNTIF(channel = 'chat') AS chat_tickets,
  COUNTIF(channel = 'phone') AS phone_tickets,
  ROUND(AVG(IF(channel = 'chat', frt_business_minutes, NULL)), 1) AS avg_chat_frt_bm,
  COUNT(DISTINCT requester_id) AS requesters,
  ROUND(SAFE_DIVIDE(COUNT(*), COUNT(DISTINCT requester_id)), 2) AS tickets_per_requester,
  COUNTIF(frt_breached AND resolution_breached) AS double_breaches,
  GROUPING(team) = 1 AS is_all_teams,
  GROUPING(priority) = 1 AS is_all_priorities,
FROM ticket_level
GROUP BY CUBE (week_start, team, priority)
HAVING week_start IS NOT NULL
ORDER BY week_start DESC, team, priority
