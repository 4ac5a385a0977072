-- Creator programme payouts: revenue share from watch time, pro-rated across the monthly pool.
WITH watch AS (
  SELECT
    c.creator_id,
    SUM(p.watched_s) / 3600 AS hours_watched,
    COUNT(DISTINCT p.profile_id) AS unique_viewers
  FROM playback.play_sessions AS p
  JOIN catalog.titles AS c USING (title_id)
  WHERE DATE(p.started_at) BETWEEN DATE_TRUNC(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH), MONTH)
                              AND LAST_DAY(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH))
    AND c.is_creator_content
  GROUP BY c.creator_id
),
pool AS (
  SELECT amount_usd
  FROM finance.creator_pools
  WHERE pool_month = DATE_TRUNC(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH), MONTH)
)
SELECT
  w.creator_id,
  cr.display_name,
  ROUND(w.hours_watched, 1) AS hours_watched,
  w.unique_viewers,
  ROUND(SAFE_DIVIDE(w.hours_watched, SUM(w.hours_watched) OVER ()), 6) AS share_of_pool,
  ROUND(p.amount_usd * SAFE_DIVIDE(w.hours_watched, SUM(w.hours_watched) OVER ()), 2) AS payout_usd,
  w.unique_viewers >= 1000 AND w.hours_watched >= 4000 AS meets_threshold,
  cr.payout_method,
  cr.tax_form_status = 'verified' AS tax_ok
FROM watch AS w
CROSS JOIN pool AS p
JOIN creators.creators AS cr USING (creator_id)
ORDER BY payout_usd DESC
