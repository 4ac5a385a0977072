-- Human-readable weekly summary lines for the Slack digest.
SELECT
  week_start,
  FORMAT(
    'Week of %s: %s orders (%+.1f%% WoW), GMV %s, AOV $%.2f, top market: %s',
    FORMAT_DATE('%b %d', week_start),
    FORMAT('%\'d', orders),
    100 * SAFE_DIVIDE(orders - prev_orders, prev_orders),
    CONCAT('$', FORMAT('%\'.0f', gmv)),
    SAFE_DIVIDE(gmv, orders),
    top_market
  ) AS digest_line,
  LPAD(CAST(orders AS STRING), 10, ' ') AS orders_padded,
  RPAD(top_market, 12, '.') AS market_padded,
  REPEAT('█', CAST(LEAST(40, ROUND(40 * SAFE_DIVIDE(gmv, MAX(gmv) OVER ()))) AS INT64)) AS gmv_bar
FROM (
  SELECT
    DATE_TRUNC(order_date, WEEK(MONDAY)) AS week_start,
    COUNT(*) AS orders,
    SUM(nmv_usd) AS gmv,
    LAG(COUNT(*)) OVER (ORDER BY DATE_TRUNC(order_date, WEEK(MONDAY))) AS prev_orders,
    APPROX_TOP_COUNT(market, 1)[OFFSET(0)].value AS top_market
  FROM `mkt-data-prod.marts.fct_marketplace_orders`
  WHERE order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 12 WEEK)
  GROUP BY week_start
)
ORDER BY week_start DESC
