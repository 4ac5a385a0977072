-- The append-only run log (SPEC §5) and source marks.
CREATE TABLE IF NOT EXISTS runs (
    run_id         BIGSERIAL PRIMARY KEY,
    table_name     TEXT NOT NULL,
    env            TEXT NOT NULL,
    action         TEXT NOT NULL,
    interval_start TIMESTAMPTZ,
    interval_end   TIMESTAMPTZ,
    status         TEXT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    fingerprint    TEXT NOT NULL,
    git_commit     TEXT,
    triggered_by   TEXT NOT NULL,
    as_of          TIMESTAMPTZ NOT NULL,
    rows_written   BIGINT,
    error          TEXT,
    sql            TEXT,
    upstream_runs  TEXT NOT NULL,
    -- the smallest upstream watermark the run read: a replace table's watermark
    read_watermark TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS runs_by_table ON runs (env, table_name, run_id);

CREATE TABLE IF NOT EXISTS source_marks (
    source    TEXT NOT NULL,
    env       TEXT NOT NULL,
    through   TIMESTAMPTZ NOT NULL,
    marked_at TIMESTAMPTZ NOT NULL,
    marked_by TEXT NOT NULL
);
