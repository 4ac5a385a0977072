/*
-- Changelog:
--   2024-04  price index switched to fixed first-day basket
--   2024-06  added week-over-week deltas and economy_state
  Virtual economy health: soft & hard currency sources and sinks per day,
  inflation indicators and wallet balance distribution.
  Inputs:
    - economy_transactions (one row per currency movement)
    - wallet_snapshots (daily end-of-day balance per player)
*/
WITH tx AS (
  SELECT
    DATE(tx_ts) AS d,
    player_id,
    currency,              -- 'gold' (soft) | 'gems' (hard)
    amount,                -- positive = earned, negative = spent
    source_sink,           -- e.g. 'quest_reward', 'shop_purchase', 'iap', 'ad_reward', 'upgrade'
    item_sku,
    app_version
  FROM `dragonforge-games.economy.economy_transactions`
  WHERE DATE(tx_ts) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
    AND NOT is_test_player
),

daily_flows AS (
  SELECT
    d,
    currency,
    source_sink,
    SUM(IF(amount > 0, amount, 0)) AS earned,
    SUM(IF(amount < 0, -amount, 0)) AS spent,
    COUNT(DISTINCT player_id) AS players,
    COUNT(*) AS transactions
  FROM tx
  GROUP BY d, currency, source_sink
),

daily_totals AS (
  SELECT
    d,
    currency,
    SUM(earned) AS total_earned,
    SUM(spent) AS total_spent,
    SUM(earned) - SUM(spent) AS net_minted,
    ARRAY_AGG(STRUCT(source_sink, earned) ORDER BY earned DESC LIMIT 3) AS top_sources,
    ARRAY_AGG(STRUCT(source_sink, spent) ORDER BY spent DESC LIMIT 3) AS top_sinks
  FROM daily_flows
  GROUP BY d, currency
),

wallets AS (
  SELECT
    snapshot_date AS d,
    player_id,
    gold_balance,
    gems_balance
  FROM `dragonforge-games.economy.wallet_snapshots`
  WHERE snapshot_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
),

wallet_long AS (
  SELECT d, player_id, currency, balance
  FROM wallets
  UNPIVOT (balance FOR currency IN (gold_balance AS 'gold', gems_balance AS 'gems'))
),

active_players AS (
  SELECT DISTINCT d, player_id FROM tx
),

wallet_stats AS (
  SELECT
    w.d,
    w.currency,
    COUNT(*) AS active_wallets,
    SUM(w.balance) AS total_balance_active,
    APPROX_QUANTILES(w.balance, 100) AS balance_pctiles,
    AVG(w.balance) AS mean_balance,
    COUNTIF(w.balance = 0) AS zero_balance_wallets
  FROM wallet_long AS w
  JOIN active_players AS a USING (d, player_id)
  GROUP BY w.d, w.currency
),

prices AS (
  -- average shop price paid per item, used as a price index for inflation tracking
  SELECT
    d,
    currency,
    item_sku,
    AVG(-amount) AS avg_price,
    COUNT(*) AS purchases
  FROM tx
  WHERE source_sink = 'shop_purchase'
    AND amount < 0
  GROUP BY d, currency, item_sku
),

price_index AS (
  SELECT
    p.d,
    p.currency,
    -- Laspeyres-style index against the first day in the window, fixed basket = first-day purchases
    SAFE_DIVIDE(
      SUM(p.avg_price * b.purchases),
      SUM(b.avg_price * b.purchases)
    ) AS shop_price_index
  FROM prices AS p
  JOIN prices AS b
    ON b.currency = p.currency
   AND b.item_sku = p.item_sku
   AND b.d = DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY)
  GROUP BY p.d, p.currency
)

SELECT
  t.d,
  t.currency,
  t.total_earned,
  t.total_spent,
  t.net_minted,
  ROUND(SAFE_DIVIDE(t.total_spent, t.total_earned), 3) AS sink_source_ratio,
  SUM(t.net_minted) OVER (PARTITION BY t.currency ORDER BY t.d) AS cumulative_net_minted,
  AVG(t.net_minted) OVER (PARTITION BY t.currency ORDER BY t.d ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS net_minted_7d_avg,
  t.top_sources,
  t.top_sinks,
  ws.active_wallets,
  ws.total_balance_active,
  ROUND(ws.mean_balance, 1) AS mean_balance,
  ws.balance_pctiles[OFFSET(50)] AS median_balance,
  ws.balance_pctiles[OFFSET(90)] AS p90_balance,
  ws.balance_pctiles[OFFSET(99)] AS p99_balance,
  ROUND(SAFE_DIVIDE(ws.balance_pctiles[OFFSET(99)], NULLIF(ws.balance_pctiles[OFFSET(50)], 0)), 1) AS p99_to_median,
  ROUND(SAFE_DIVIDE(ws.zero_balance_wallets, ws.active_wallets), 4) AS zero_balance_share,
  ROUND(pi.shop_price_index, 4) AS shop_price_index,
  -- velocity of money: spend relative to the stock held by active players
  ROUND(SAFE_DIVIDE(t.total_spent, ws.total_balance_active), 4) AS currency_velocity,
  -- week-over-week comparisons
  t.total_earned - LAG(t.total_earned, 7) OVER (PARTITION BY t.currency ORDER BY t.d) AS earned_wow_delta,
  t.total_spent - LAG(t.total_spent, 7) OVER (PARTITION BY t.currency ORDER BY t.d) AS spent_wow_delta,
  ROUND(SAFE_DIVIDE(pi.shop_price_index, LAG(pi.shop_price_index, 7) OVER (PARTITION BY t.currency ORDER BY t.d)) - 1, 4) AS price_index_wow,
  CASE
    WHEN SAFE_DIVIDE(t.total_spent, t.total_earned) < 0.6 THEN 'inflationary'
    WHEN SAFE_DIVIDE(t.total_spent, t.total_earned) > 1.2 THEN 'deflationary'
    ELSE 'balanced'
  END AS economy_state
FROM daily_totals AS t
LEFT JOIN wallet_stats AS ws USING (d, currency)
LEFT JOIN price_index AS pi USING (d, currency)
ORDER BY t.currency, t.d
