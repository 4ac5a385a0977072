-- Open pipeline by stage and owner, as of end of last quarter, using time travel-free snapshot table.
-- Source: daily snapshot of the Opportunity object (taken 23:00 UTC).
-- Only New Business and Expansion record types count toward pipeline.
-- ROLLUP gives owner subtotals and a grand total row.
-- Probability is the stage default unless the rep overrides it.
-- Consumers: quarterly pipeline review deck.
SELECT
  o.owner_name,
  o.stage_name,
  COUNT(*) AS open_opps,
  SUM(o.amount) AS pipeline_amount,
  SUM(o.amount * o.probability / 100) AS weighted_pipeline,
  AVG(DATE_DIFF(DATE '2024-06-30', DATE(o.created_date), DAY)) AS avg_age_days,
  COUNTIF(o.close_date < DATE '2024-06-30') AS past_due_close_date
FROM `revops-prod.salesforce_snapshots.opportunity_daily` AS o
WHERE o.snapshot_date = DATE '2024-06-30'
  AND NOT o.is_closed
  AND o.record_type IN ('New Business', 'Expansion')
GROUP BY ROLLUP (o.owner_name, o.stage_name)
ORDER BY o.owner_name NULLS LAST, pipeline_amount DESC
