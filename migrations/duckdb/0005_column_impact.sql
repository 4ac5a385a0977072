-- Change impact (SPEC §10.3): per output column, a hash of what defined it when
-- the run built the table, and for a rebuild the columns whose definition
-- changed (NULL: every column).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS column_fingerprints VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS changed_columns VARCHAR;
