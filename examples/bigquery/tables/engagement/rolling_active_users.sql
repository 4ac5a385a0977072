-- The run reads `window: 28d` of input ([start, end)) but emits one row per day
-- of the scheduled interval only ([interval_start, interval_end)): an append
-- table may only write rows inside its interval. Days are TIMESTAMPs at
-- midnight UTC, the time column type the BigQuery warehouse partitions on.
WITH days AS (
    SELECT day
    FROM UNNEST(GENERATE_TIMESTAMP_ARRAY({{ interval_start }}, TIMESTAMP_SUB({{ interval_end }}, INTERVAL 1 DAY), INTERVAL 1 DAY)) AS day
),
active AS (
    SELECT day AS active_day, user_id
    FROM core.user_daily_activity
    WHERE day >= {{ start }} AND day < {{ end }}
),
counts AS (
    SELECT
        d.day,
        COUNT(DISTINCT IF(a.active_day = d.day, a.user_id, NULL)) AS dau,
        COUNT(DISTINCT IF(a.active_day > TIMESTAMP_SUB(d.day, INTERVAL 7 DAY), a.user_id, NULL)) AS wau,
        COUNT(DISTINCT a.user_id) AS mau
    FROM days AS d
    LEFT JOIN active AS a
        ON a.active_day <= d.day AND a.active_day > TIMESTAMP_SUB(d.day, INTERVAL 28 DAY)
    GROUP BY d.day
)
SELECT day, dau, wau, mau, ROUND(dau / NULLIF(mau, 0), 3) AS stickiness
FROM counts
