-- Expense report policy checks: weekend meals, duplicate receipts, over-limit hotel nights.
SELECT
  e.expense_id,
  e.employee_id,
  emp.cost_center,
  e.category,
  e.amount_usd,
  e.expense_date,
  e.merchant_name,
  ARRAY_CONCAT(
    IF(e.category = 'meals' AND EXTRACT(DAYOFWEEK FROM e.expense_date) IN (1, 7), ['weekend_meal'], ARRAY<STRING>[]),
    IF(COUNT(*) OVER (PARTITION BY e.employee_id, e.amount_usd, e.merchant_name, e.expense_date) > 1, ['possible_duplicate'], ARRAY<STRING>[]),
    IF(e.category = 'lodging' AND SAFE_DIVIDE(e.amount_usd, e.nights) > IFNULL(l.nightly_cap_usd, 250), ['over_hotel_cap'], ARRAY<STRING>[]),
    IF(e.receipt_url IS NULL AND e.amount_usd >= 75, ['missing_receipt'], ARRAY<STRING>[]),
    IF(REGEXP_CONTAINS(LOWER(e.merchant_name), r'\b(bar|pub|liquor|casino)\b'), ['restricted_merchant'], [])
  ) AS policy_flags
FROM `fin-core-prod.expenses.expense_lines` AS e
JOIN `people-analytics.hris.employees` AS emp USING (employee_id)
LEFT JOIN `fin-core-prod.expenses.lodging_caps` AS l
  ON l.city = e.city
WHERE e.submitted_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
QUALIFY ARRAY_LENGTH(policy_flags) > 0
ORDER BY e.employee_id, e.expense_date
