-- Who is writing a table right now: a worker holds a table's lease while it runs
-- it and renews it by heartbeat; a lease not renewed by expires_at is free to take.
CREATE TABLE IF NOT EXISTS leases (
    env        TEXT NOT NULL,
    table_name TEXT NOT NULL,
    holder     TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (env, table_name)
);
CREATE INDEX IF NOT EXISTS leases_by_holder ON leases (holder);
