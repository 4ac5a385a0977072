-- Leaderboard snapshot: ranks, percentiles and gaps using a named WINDOW.
SELECT
  season_id,
  region,
  player_id,
  rating,
  games_played,
  RANK() OVER region_board AS region_rank,
  DENSE_RANK() OVER region_board AS region_dense_rank,
  PERCENT_RANK() OVER region_board AS region_percent_rank,
  CUME_DIST() OVER region_board AS region_cume_dist,
  NTILE(100) OVER region_board AS region_percentile_bucket,
  rating - LEAD(rating) OVER region_board AS gap_to_next,
  FIRST_VALUE(rating) OVER (region_board ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS region_top_rating,
  NTH_VALUE(rating, 100) OVER (region_board ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS rating_at_rank_100
FROM ranked.season_ratings
WHERE season_id = 14
  AND games_played >= 20
WINDOW region_board AS (PARTITION BY season_id, region ORDER BY rating DESC, games_played DESC)
QUALIFY region_rank <= 500
ORDER BY region, region_rank
