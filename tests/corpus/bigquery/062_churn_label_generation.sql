-- Churn labels: a customer churns if they have no order in the 60 days after the snapshot date,
-- given they ordered in the 90 days before it. Snapshots are taken every 2 weeks.
WITH snapshots AS (
  SELECT snapshot_date
  FROM UNNEST(GENERATE_DATE_ARRAY('2023-01-02', DATE_SUB(CURRENT_DATE(), INTERVAL 61 DAY), INTERVAL 2 WEEK)) AS snapshot_date
),
orders AS (
  SELECT customer_id, DATE(created_at) AS order_date
  FROM commerce.orders
  WHERE status = 'completed'
)
SELECT
  s.snapshot_date,
  o.customer_id,
  COUNT(DISTINCT IF(o.order_date BETWEEN DATE_SUB(s.snapshot_date, INTERVAL 89 DAY) AND s.snapshot_date, o.order_date, NULL)) AS order_days_90d_before,
  MAX(IF(o.order_date <= s.snapshot_date, o.order_date, NULL)) AS last_order_before,
  COUNTIF(o.order_date BETWEEN DATE_ADD(s.snapshot_date, INTERVAL 1 DAY) AND DATE_ADD(s.snapshot_date, INTERVAL 60 DAY)) = 0 AS churned
FROM snapshots AS s
JOIN orders AS o
  ON o.order_date BETWEEN DATE_SUB(s.snapshot_date, INTERVAL 89 DAY) AND DATE_ADD(s.snapshot_date, INTERVAL 60 DAY)
GROUP BY s.snapshot_date, o.customer_id
HAVING order_days_90d_before > 0
