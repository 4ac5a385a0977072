-- Hourly spine for the last 48h so hours without orders still show up as zero.
WITH spine AS (
  SELECT hour_ts
  FROM UNNEST(GENERATE_TIMESTAMP_ARRAY(
    TIMESTAMP_TRUNC(TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 48 HOUR), HOUR),
    TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), HOUR),
    INTERVAL 1 HOUR
  )) AS hour_ts
),
orders AS (
  SELECT TIMESTAMP_TRUNC(created_at, HOUR) AS hour_ts, COUNT(*) AS orders, SUM(total_usd) AS revenue
  FROM `acme-dw.commerce.orders`
  WHERE created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 49 HOUR)
  GROUP BY 1
)
SELECT
  s.hour_ts,
  FORMAT_TIMESTAMP('%a %H:00', s.hour_ts, 'Europe/Berlin') AS local_label,
  IFNULL(o.orders, 0) AS orders,
  IFNULL(o.revenue, 0) AS revenue,
  AVG(IFNULL(o.orders, 0)) OVER (ORDER BY s.hour_ts ROWS BETWEEN 23 PRECEDING AND CURRENT ROW) AS orders_24h_avg,
  IFNULL(o.orders, 0) < 0.3 * AVG(IFNULL(o.orders, 0)) OVER (ORDER BY s.hour_ts ROWS BETWEEN 23 PRECEDING AND 1 PRECEDING) AS low_volume_alert
FROM spine AS s
LEFT JOIN orders AS o USING (hour_ts)
ORDER BY s.hour_ts
