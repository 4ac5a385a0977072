-- Store pricing test: conversion and ARPU by price variant for the starter pack offer.
WITH assignment AS (
  SELECT
    player_id,
    JSON_VALUE(properties, '$.variant') AS variant,
    MIN(event_ts) AS assigned_at
  FROM telemetry.events
  WHERE event_name = 'experiment_assigned'
    AND JSON_VALUE(properties, '$.experiment') = 'starter_pack_price_2024_07'
  GROUP BY 1, 2
),
offers AS (
  SELECT
    player_id,
    COUNTIF(event_name = 'offer_shown') AS shown,
    COUNTIF(event_name = 'offer_purchased') AS purchased,
    SUM(IF(event_name = 'iap_purchase', CAST(JSON_VALUE(properties, '$.price_usd') AS NUMERIC), 0)) AS revenue
  FROM telemetry.events
  WHERE event_date BETWEEN DATE '2024-07-01' AND DATE '2024-07-28'
    AND (JSON_VALUE(properties, '$.offer_id') = 'starter_pack' OR event_name = 'iap_purchase')
  GROUP BY player_id
)
SELECT
  a.variant,
  COUNT(*) AS players,
  COUNTIF(o.shown > 0) AS saw_offer,
  COUNTIF(o.purchased > 0) AS bought_offer,
  ROUND(SAFE_DIVIDE(COUNTIF(o.purchased > 0), COUNTIF(o.shown > 0)), 4) AS offer_conversion,
  ROUND(AVG(IFNULL(o.revenue, 0)), 4) AS arpu_28d,
  ROUND(SAFE_DIVIDE(SUM(o.revenue), COUNTIF(o.revenue > 0)), 2) AS arppu_28d
FROM assignment AS a
LEFT JOIN offers AS o USING (player_id)
GROUP BY a.variant
ORDER BY a.variant
