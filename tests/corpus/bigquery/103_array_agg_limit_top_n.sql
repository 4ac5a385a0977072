-- Top 3 products per category by revenue, as nested arrays (one row per category).
SELECT
  category,
  SUM(revenue) AS category_revenue,
  ARRAY_AGG(
    STRUCT(product_id, product_name, revenue, units)
    ORDER BY revenue DESC
    LIMIT 3
  ) AS top_products,
  ARRAY_AGG(product_id IGNORE NULLS ORDER BY units DESC LIMIT 10) AS top10_by_units,
  COUNT(*) AS products
FROM (
  SELECT
    p.category,
    p.product_id,
    ANY_VALUE(p.product_name) AS product_name,
    SUM(li.quantity * li.unit_price) AS revenue,
    SUM(li.quantity) AS units
  FROM `acme-dw.commerce.order_lines` AS li
  JOIN `acme-dw.catalog.products` AS p USING (product_id)
  WHERE li.order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
  GROUP BY p.category, p.product_id
)
GROUP BY category
ORDER BY category_revenue DESC
