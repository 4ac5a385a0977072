-- One row per check per run: what the check found on the rows the run produced.
CREATE TABLE IF NOT EXISTS check_results (
    run_id       BIGINT NOT NULL,
    table_name   VARCHAR NOT NULL,
    env          VARCHAR NOT NULL,
    check_name   VARCHAR NOT NULL,
    severity     VARCHAR NOT NULL,
    failing_rows BIGINT NOT NULL,
    sample       VARCHAR NOT NULL,
    checked_at   TIMESTAMP NOT NULL
);
