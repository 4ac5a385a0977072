/* Matchmaking quality: skill spread, wait time and early-quit rate per queue and region. */
SELECT
  m.queue,
  m.region,
  DATE(m.started_at) AS match_date,
  COUNT(DISTINCT m.match_id) AS matches,
  AVG(m.max_mmr - m.min_mmr) AS avg_mmr_spread,
  APPROX_QUANTILES(p.queue_wait_s, 100)[OFFSET(50)] AS p50_wait_s,
  APPROX_QUANTILES(p.queue_wait_s, 100)[OFFSET(95)] AS p95_wait_s,
  SAFE_DIVIDE(COUNTIF(p.left_early), COUNT(*)) AS early_quit_rate,
  SAFE_DIVIDE(COUNTIF(p.party_size > 1), COUNT(*)) AS party_share,
  AVG(TIMESTAMP_DIFF(m.ended_at, m.started_at, SECOND)) / 60 AS avg_match_minutes,
  COUNTIF(m.outcome = 'stomp') / COUNT(DISTINCT m.match_id) AS stomp_rate
FROM `dragonforge-games.matches.matches` AS m
JOIN `dragonforge-games.matches.match_players` AS p
  USING (match_id)
WHERE m.started_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 14 DAY)
  AND m.queue IN ('ranked_solo', 'ranked_flex', 'casual')
GROUP BY m.queue, m.region, match_date
ORDER BY match_date DESC, m.queue, m.region
