-- Season pass progression: tier reached distribution, premium upgrades and tier-skip purchases.
SELECT
  season_id,
  pass_type,
  COUNT(*) AS players,
  ROUND(AVG(max_tier), 1) AS avg_max_tier,
  APPROX_QUANTILES(max_tier, 4) AS tier_quartiles,
  COUNTIF(max_tier >= 100) AS completed_pass,
  COUNTIF(upgraded_to_premium_at IS NOT NULL) AS premium_upgrades,
  ROUND(AVG(TIMESTAMP_DIFF(upgraded_to_premium_at, first_progress_at, DAY)), 1) AS avg_days_to_upgrade,
  SUM(tier_skips_bought) AS tier_skips_bought,
  ROUND(SUM(pass_revenue_usd), 2) AS pass_revenue_usd
FROM (
  SELECT
    player_id,
    season_id,
    IF(LOGICAL_OR(is_premium), 'premium', 'free') AS pass_type,
    MAX(tier) AS max_tier,
    MIN(progress_ts) AS first_progress_at,
    MIN(IF(event_type = 'premium_upgrade', progress_ts, NULL)) AS upgraded_to_premium_at,
    COUNTIF(event_type = 'tier_skip_purchase') AS tier_skips_bought,
    SUM(IFNULL(price_usd, 0)) AS pass_revenue_usd
  FROM `dragonforge-games.live_ops.season_pass_events`
  WHERE season_id IN (13, 14)
  GROUP BY player_id, season_id
)
GROUP BY season_id, pass_type
ORDER BY season_id, pass_type
