-- Anti-cheat heuristics: statistically improbable accuracy / reaction times per player.
WITH stats AS (
  SELECT
    player_id,
    COUNT(*) AS matches,
    AVG(headshot_ratio) AS avg_headshot_ratio,
    AVG(avg_reaction_ms) AS avg_reaction_ms,
    MIN(avg_reaction_ms) AS min_reaction_ms,
    STDDEV(avg_reaction_ms) AS sd_reaction_ms,
    SUM(kills) / NULLIF(SUM(deaths), 0) AS kd_ratio
  FROM `dragonforge-games.matches.match_players`
  WHERE match_end_ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 14 DAY)
  GROUP BY player_id
  HAVING COUNT(*) >= 10
),
population AS (
  SELECT
    AVG(avg_headshot_ratio) AS mu_hs,
    STDDEV(avg_headshot_ratio) AS sd_hs,
    APPROX_QUANTILES(avg_reaction_ms, 1000)[OFFSET(1)] AS p001_reaction
  FROM stats
)
SELECT
  s.player_id,
  s.matches,
  ROUND(s.avg_headshot_ratio, 3) AS avg_headshot_ratio,
  ROUND((s.avg_headshot_ratio - p.mu_hs) / p.sd_hs, 2) AS headshot_z,
  ROUND(s.avg_reaction_ms, 1) AS avg_reaction_ms,
  ROUND(s.sd_reaction_ms, 1) AS sd_reaction_ms,
  ROUND(s.kd_ratio, 2) AS kd_ratio,
  s.avg_reaction_ms < p.p001_reaction AS reaction_below_p001,
  s.sd_reaction_ms < 5 AS suspiciously_consistent
FROM stats AS s
CROSS JOIN population AS p
WHERE (s.avg_headshot_ratio - p.mu_hs) / p.sd_hs > 4
   OR s.avg_reaction_ms < p.p001_reaction
   OR s.sd_reaction_ms < 5
ORDER BY headshot_z DESC
