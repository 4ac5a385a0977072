-- Sales matrix with all subtotal combinations; GROUPING() marks the subtotal rows.
-- CUBE over three dimensions yields 2^3 = 8 grouping combinations.
-- subtotal_level 0 = detail row, 3 = grand total.
-- Q1 2024 only; rerun with other dates for other quarters.
-- Margin is after COGS but before fulfilment costs.
-- GROUPING() returns 1 when the column is aggregated away.
-- Used for the finance pivot export (Excel).
-- Revenue is net of discounts and VAT.
SELECT
  IF(GROUPING(channel) = 1, 'ALL', channel) AS channel,
  IF(GROUPING(region) = 1, 'ALL', region) AS region,
  IF(GROUPING(category) = 1, 'ALL', category) AS category,
  GROUPING(channel) + GROUPING(region) + GROUPING(category) AS subtotal_level,
  COUNT(DISTINCT order_id) AS orders,
  ROUND(SUM(revenue_usd), 2) AS revenue_usd,
  ROUND(SUM(margin_usd), 2) AS margin_usd,
  ROUND(SAFE_DIVIDE(SUM(margin_usd), SUM(revenue_usd)), 4) AS margin_pct
FROM marts.order_lines_enriched
WHERE order_date BETWEEN DATE '2024-01-01' AND DATE '2024-03-31'
GROUP BY CUBE (channel, region, category)
ORDER BY subtotal_level, channel, region, category
