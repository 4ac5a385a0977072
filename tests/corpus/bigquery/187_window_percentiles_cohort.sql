-- Order value percentiles within each acquisition cohort, using PERCENTILE_CONT analytic function.
-- PERCENTILE_CONT / PERCENTILE_DISC are analytic-only in BigQuery, hence SELECT DISTINCT
-- over window results instead of GROUP BY.
SELECT DISTINCT
  DATE_TRUNC(c.first_order_date, QUARTER) AS cohort_quarter,
  c.acquisition_channel,
  PERCENTILE_CONT(o.order_value, 0.25) OVER cohort AS p25_order_value,
  PERCENTILE_CONT(o.order_value, 0.5) OVER cohort AS median_order_value,
  PERCENTILE_CONT(o.order_value, 0.75) OVER cohort AS p75_order_value,
  PERCENTILE_CONT(o.order_value, 0.95) OVER cohort AS p95_order_value,
  PERCENTILE_DISC(o.items, 0.5) OVER cohort AS median_items,
  COUNT(*) OVER cohort AS orders_in_cohort,
  COUNT(DISTINCT o.customer_id) OVER cohort AS customers_in_cohort
FROM commerce.orders_enriched AS o
JOIN marts.customer_first_order AS c USING (customer_id)
WHERE c.first_order_date >= DATE '2022-01-01'
  AND o.status = 'completed'
WINDOW cohort AS (PARTITION BY DATE_TRUNC(c.first_order_date, QUARTER), c.acquisition_channel)
-- after SELECT DISTINCT only output columns can be used for ordering
ORDER BY cohort_quarter, acquisition_channel
