-- The run reads `window: 28d` of input ([start, end)) but emits one row per day
-- of the scheduled interval only ([interval_start, interval_end)): an append
-- table may only write rows inside its interval.
WITH days AS (
    SELECT CAST(d AS DATE) AS day
    FROM generate_series({{ interval_start }}, {{ interval_end }} - INTERVAL '1 day', INTERVAL '1 day') AS g (d)
),
active AS (
    SELECT day AS active_day, user_id
    FROM core.user_daily_activity
    WHERE day >= {{ start_date }} AND day < {{ end_date }}
),
counts AS (
    SELECT
        d.day,
        COUNT(DISTINCT a.user_id) FILTER (WHERE a.active_day = d.day) AS dau,
        COUNT(DISTINCT a.user_id) FILTER (WHERE a.active_day > d.day - 7) AS wau,
        COUNT(DISTINCT a.user_id) AS mau
    FROM days AS d
    LEFT JOIN active AS a
        ON a.active_day <= d.day AND a.active_day > d.day - 28
    GROUP BY d.day
)
SELECT day, dau, wau, mau, CAST(ROUND(CAST(dau AS NUMERIC) / NULLIF(mau, 0), 3) AS DOUBLE PRECISION) AS stickiness
FROM counts
