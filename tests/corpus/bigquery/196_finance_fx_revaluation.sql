-- Month-end FX revaluation of open foreign-currency receivables.
WITH open_items AS (
  SELECT
    invoice_id,
    customer_id,
    currency,
    open_amount,
    booked_rate,
    open_amount * booked_rate AS booked_value_eur
  FROM `fin-core-prod.billing.open_receivables`
  WHERE snapshot_date = LAST_DAY(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH))
    AND currency != 'EUR'
),
closing_rates AS (
  SELECT currency, eur_per_unit AS closing_rate
  FROM `fin-core-prod.reference.fx_rates_daily`
  WHERE rate_date = LAST_DAY(DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH))
)
SELECT
  o.currency,
  COUNT(*) AS open_invoices,
  ROUND(SUM(o.open_amount), 2) AS open_amount_fc,
  ROUND(SUM(o.booked_value_eur), 2) AS booked_value_eur,
  ROUND(SUM(o.open_amount * r.closing_rate), 2) AS revalued_eur,
  ROUND(SUM(o.open_amount * r.closing_rate) - SUM(o.booked_value_eur), 2) AS unrealised_fx_gain_loss,
  CASE WHEN SUM(o.open_amount * r.closing_rate) >= SUM(o.booked_value_eur) THEN '7710' ELSE '8710' END AS gl_account
FROM open_items AS o
JOIN closing_rates AS r USING (currency)
GROUP BY o.currency
ORDER BY ABS(unrealised_fx_gain_loss) DESC
