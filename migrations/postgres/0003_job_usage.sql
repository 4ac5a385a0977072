-- What a run cost where the warehouse reports it (BigQuery bytes processed and slot time).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS bytes_processed BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS slot_ms BIGINT;
