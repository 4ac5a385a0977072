-- ISO calendar dimension for 2020-2030 (one row per date).
SELECT
  d AS date_day,
  EXTRACT(YEAR FROM d) AS year,
  EXTRACT(QUARTER FROM d) AS quarter,
  EXTRACT(MONTH FROM d) AS month,
  FORMAT_DATE('%B', d) AS month_name,
  EXTRACT(DAY FROM d) AS day_of_month,
  EXTRACT(DAYOFWEEK FROM d) AS day_of_week_sun1,
  MOD(EXTRACT(DAYOFWEEK FROM d) + 5, 7) + 1 AS day_of_week_mon1,
  FORMAT_DATE('%A', d) AS day_name,
  EXTRACT(DAYOFYEAR FROM d) AS day_of_year,
  EXTRACT(ISOYEAR FROM d) AS iso_year,
  EXTRACT(ISOWEEK FROM d) AS iso_week,
  EXTRACT(WEEK FROM d) AS week_sunday_start,
  EXTRACT(WEEK(MONDAY) FROM d) AS week_monday_start,
  FORMAT_DATE('%G-W%V', d) AS iso_week_label,
  DATE_TRUNC(d, ISOWEEK) AS iso_week_start,
  DATE_TRUNC(d, MONTH) AS month_start,
  LAST_DAY(d, MONTH) AS month_end,
  LAST_DAY(d, QUARTER) AS quarter_end,
  EXTRACT(DAYOFWEEK FROM d) IN (1, 7) AS is_weekend,
  d = LAST_DAY(d, MONTH) AS is_month_end
FROM UNNEST(GENERATE_DATE_ARRAY(DATE '2020-01-01', DATE '2030-12-31')) AS d
ORDER BY d
