-- Report filtered by a list parameter of markets and a date range parameter.
-- Parameters: @markets ARRAY<STRING>, @start_date DATE, @end_date DATE.
-- Called from the Looker Studio connector with user-selected filters.
-- Weeks start on Sunday to match the US merchandising calendar.
-- Internal and test channels are always excluded.
-- Cancelled orders are already excluded in the mart.
-- AOV is computed on distinct orders.
SELECT
  market,
  DATE_TRUNC(order_date, WEEK(SUNDAY)) AS week_start,
  COUNT(DISTINCT order_id) AS orders,
  COUNT(DISTINCT buyer_id) AS buyers,
  SUM(nmv_usd) AS nmv_usd,
  SUM(nmv_usd) / COUNT(DISTINCT order_id) AS aov_usd,
  COUNTIF(is_first_order) AS first_orders
FROM `mkt-data-prod.marts.fct_marketplace_orders`
WHERE market IN UNNEST(@markets)
  AND order_date BETWEEN @start_date AND @end_date
  AND channel NOT IN UNNEST(['internal', 'test'])
GROUP BY market, week_start
ORDER BY market, week_start
