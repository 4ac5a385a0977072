-- Recommended-items carousel: click-through by slot position and carousel type.
-- Position bias check for the recommendation carousels.
SELECT
  c.carousel_type,
  pos + 1 AS slot,
  COUNT(*) AS impressions,
  COUNTIF(item_id = c.clicked_item_id) AS clicks,
  ROUND(SAFE_DIVIDE(COUNTIF(item_id = c.clicked_item_id), COUNT(*)) * 100, 3) AS ctr_pct,
  ROUND(
    SAFE_DIVIDE(COUNTIF(item_id = c.clicked_item_id), COUNT(*))
    / SAFE_DIVIDE(SUM(COUNTIF(item_id = c.clicked_item_id)) OVER (PARTITION BY c.carousel_type),
                  SUM(COUNT(*)) OVER (PARTITION BY c.carousel_type)),
    3
  ) AS ctr_index_vs_carousel
FROM `shop-ml.reco_logs.carousel_renders` AS c
CROSS JOIN UNNEST(c.item_ids) AS item_id WITH OFFSET AS pos
WHERE DATE(c.rendered_at) BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  AND pos < 20
GROUP BY c.carousel_type, slot
ORDER BY c.carousel_type, slot
