-- Why a person did what a row records (the reason given to `derived pause`).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS note TEXT;
