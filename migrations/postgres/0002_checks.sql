-- One row per check per run: what the check found on the rows the run produced.
CREATE TABLE IF NOT EXISTS check_results (
    id           BIGSERIAL PRIMARY KEY,
    run_id       BIGINT NOT NULL,
    table_name   TEXT NOT NULL,
    env          TEXT NOT NULL,
    check_name   TEXT NOT NULL,
    severity     TEXT NOT NULL,
    failing_rows BIGINT NOT NULL,
    sample       TEXT NOT NULL,
    checked_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS check_results_by_run ON check_results (run_id);
