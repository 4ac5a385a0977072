-- Rolling 7-day and 28-day revenue with RANGE frames over UNIX_DATE so missing days are handled.
WITH daily AS (
  SELECT
    order_date,
    market,
    SUM(nmv_usd) AS nmv_usd,
    COUNT(*) AS orders
  FROM mkt-data-prod.marts.fct_marketplace_orders
  WHERE order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 400 DAY)
    AND order_status != 'cancelled'
  GROUP BY order_date, market
)
SELECT
  order_date,
  market,
  nmv_usd,
  orders,
  SUM(nmv_usd) OVER (PARTITION BY market ORDER BY UNIX_DATE(order_date) RANGE BETWEEN 6 PRECEDING AND CURRENT ROW) AS nmv_7d,
  SUM(nmv_usd) OVER (PARTITION BY market ORDER BY UNIX_DATE(order_date) RANGE BETWEEN 27 PRECEDING AND CURRENT ROW) AS nmv_28d,
  SUM(nmv_usd) OVER (PARTITION BY market ORDER BY UNIX_DATE(order_date) RANGE BETWEEN 370 PRECEDING AND 364 PRECEDING) AS nmv_7d_last_year,
  SAFE_DIVIDE(
    SUM(nmv_usd) OVER (PARTITION BY market ORDER BY UNIX_DATE(order_date) RANGE BETWEEN 6 PRECEDING AND CURRENT ROW),
    SUM(nmv_usd) OVER (PARTITION BY market ORDER BY UNIX_DATE(order_date) RANGE BETWEEN 370 PRECEDING AND 364 PRECEDING)
  ) - 1 AS yoy_growth_7d,
  AVG(orders) OVER (PARTITION BY market ORDER BY order_date ROWS BETWEEN 27 PRECEDING AND CURRENT ROW) AS avg_orders_28_rows
FROM daily
WHERE order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 35 DAY)
ORDER BY market, order_date
