-- Heterogeneous treatment effects: conversion lift by platform x new/returning user.
WITH users AS (
  SELECT
    e.user_id,
    e.variant,
    u.platform,
    IF(u.first_seen_date >= DATE '2024-07-08', 'new', 'returning') AS user_type,
    IFNULL(o.converted, FALSE) AS converted
  FROM experimentation.exposures AS e
  JOIN core.users AS u USING (user_id)
  LEFT JOIN (
    SELECT customer_id AS user_id, TRUE AS converted
    FROM commerce.orders
    WHERE created_at BETWEEN TIMESTAMP '2024-07-08' AND TIMESTAMP '2024-08-05'
    GROUP BY 1
  ) AS o USING (user_id)
  WHERE e.experiment_key = 'checkout_redesign_2024q3'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY e.user_id ORDER BY e.exposed_at) = 1
)
SELECT
  platform,
  user_type,
  COUNTIF(variant = 'control') AS n_control,
  COUNTIF(variant = 'treatment') AS n_treatment,
  AVG(IF(variant = 'control', IF(converted, 1, 0), NULL)) AS cr_control,
  AVG(IF(variant = 'treatment', IF(converted, 1, 0), NULL)) AS cr_treatment,
  AVG(IF(variant = 'treatment', IF(converted, 1, 0), NULL)) - AVG(IF(variant = 'control', IF(converted, 1, 0), NULL)) AS abs_lift
FROM users
GROUP BY platform, user_type
ORDER BY platform, user_type
