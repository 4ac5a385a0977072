-- Geo holdout incrementality test: treatment DMAs received paid social, control DMAs did not.
-- Difference-in-differences on daily revenue per DMA, pre vs test period, with a simple
-- pre-period scaling factor between the groups.
WITH assignment AS (
  SELECT dma_code, test_group   -- 'treatment' | 'control'
  FROM `acme-ads.experiments.geo_test_2024q2_assignment`
),

daily AS (
  SELECT
    o.order_date AS d,
    g.dma_code,
    SUM(o.nmv_usd) AS revenue,
    COUNT(*) AS orders
  FROM `mkt-data-prod.marts.fct_marketplace_orders` AS o
  JOIN `acme-ads.reference.zip_to_dma` AS g
    ON g.zip_code = SUBSTR(o.ship_postal_code, 1, 5)
  WHERE o.order_date BETWEEN DATE '2024-02-01' AND DATE '2024-05-31'
    AND o.ship_country = 'US'
    AND o.order_status != 'cancelled'
  GROUP BY 1, 2
),

periods AS (
  SELECT
    d.*,
    a.test_group,
    CASE
      WHEN d.d < DATE '2024-04-01' THEN 'pre'
      WHEN d.d BETWEEN DATE '2024-04-01' AND DATE '2024-05-12' THEN 'test'
      ELSE 'cooldown'
    END AS period
  FROM daily AS d
  JOIN assignment AS a USING (dma_code)
),

group_totals AS (
  SELECT
    test_group,
    period,
    SUM(revenue) AS revenue,
    SUM(orders) AS orders,
    COUNT(DISTINCT d) AS days
  FROM periods
  GROUP BY test_group, period
),

pivoted AS (
  SELECT *
  FROM group_totals
  PIVOT (SUM(revenue) AS revenue, SUM(orders) AS orders FOR period IN ('pre', 'test', 'cooldown'))
),

spend AS (
  SELECT SUM(spend_usd) AS test_spend
  FROM `acme-ads.marts.daily_ad_spend`
  WHERE spend_date BETWEEN DATE '2024-04-01' AND DATE '2024-05-12'
    AND channel = 'Paid Social'
    AND geo_test_flag = 'treatment'
)

SELECT
  t.revenue_pre AS treatment_pre,
  t.revenue_test AS treatment_test,
  c.revenue_pre AS control_pre,
  c.revenue_test AS control_test,
  SAFE_DIVIDE(t.revenue_pre, c.revenue_pre) AS pre_period_ratio,
  -- counterfactual treatment revenue if it had behaved like control
  c.revenue_test * SAFE_DIVIDE(t.revenue_pre, c.revenue_pre) AS counterfactual_treatment_test,
  t.revenue_test - c.revenue_test * SAFE_DIVIDE(t.revenue_pre, c.revenue_pre) AS incremental_revenue,
  SAFE_DIVIDE(
    t.revenue_test - c.revenue_test * SAFE_DIVIDE(t.revenue_pre, c.revenue_pre),
    c.revenue_test * SAFE_DIVIDE(t.revenue_pre, c.revenue_pre)
  ) AS incremental_lift,
  s.test_spend,
  SAFE_DIVIDE(t.revenue_test - c.revenue_test * SAFE_DIVIDE(t.revenue_pre, c.revenue_pre), s.test_spend) AS iroas,
  t.orders_test - c.orders_test * SAFE_DIVIDE(t.orders_pre, c.orders_pre) AS incremental_orders
FROM pivoted AS t
JOIN pivoted AS c
  ON t.test_group = 'treatment'
 AND c.test_group = 'control'
CROSS JOIN spend AS s
