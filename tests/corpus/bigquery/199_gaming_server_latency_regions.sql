-- Game server ping by player country and server region; suggests better region assignments.
-- Ping measured client-side and averaged per match.
-- If the best-ranked region differs from the assigned one, the matchmaker config needs review.
-- Only player-country x region pairs with 200+ matches are shown.
-- Last 7 days.
SELECT
  p.country,
  s.region AS server_region,
  COUNT(*) AS matches,
  APPROX_QUANTILES(p.avg_ping_ms, 100)[OFFSET(50)] AS p50_ping,
  APPROX_QUANTILES(p.avg_ping_ms, 100)[OFFSET(90)] AS p90_ping,
  AVG(p.packet_loss_pct) AS avg_packet_loss_pct,
  RANK() OVER (PARTITION BY p.country ORDER BY APPROX_QUANTILES(p.avg_ping_ms, 100)[OFFSET(50)]) AS region_rank_for_country
FROM matches.match_players AS p
JOIN matches.matches AS m USING (match_id)
JOIN infra.game_servers AS s ON s.server_id = m.server_id
WHERE m.started_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
GROUP BY p.country, s.region
HAVING matches >= 200
ORDER BY p.country, region_rank_for_country
