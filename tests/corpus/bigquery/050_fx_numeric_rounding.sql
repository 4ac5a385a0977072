-- Invoice totals with exact decimal arithmetic (NUMERIC / BIGNUMERIC) and banker's-rounding check.
-- Tax totals must match the invoice header to the cent.
SELECT
  invoice_id,
  currency,
  SUM(CAST(line_amount AS NUMERIC)) AS subtotal,
  SUM(CAST(line_amount AS NUMERIC) * CAST(tax_rate AS NUMERIC)) AS tax_exact,
  ROUND(SUM(CAST(line_amount AS NUMERIC) * CAST(tax_rate AS NUMERIC)), 2) AS tax_rounded,
  ROUND(SUM(CAST(line_amount AS NUMERIC) * CAST(tax_rate AS NUMERIC)), 2, 'ROUND_HALF_EVEN') AS tax_bankers,
  SUM(CAST(line_amount AS BIGNUMERIC) * BIGNUMERIC '1.000000000000000000000001') AS subtotal_bignum_probe,
  NUMERIC '0.005' AS rounding_tolerance,
  ABS(
    ROUND(SUM(CAST(line_amount AS NUMERIC) * CAST(tax_rate AS NUMERIC)), 2)
    - ANY_VALUE(CAST(invoice_tax_total AS NUMERIC))
  ) > NUMERIC '0.005' AS tax_mismatch
FROM `fin-core-prod.billing.invoice_lines`
WHERE invoice_date >= DATE '2024-01-01'
GROUP BY invoice_id, currency
HAVING tax_mismatch
ORDER BY invoice_id
