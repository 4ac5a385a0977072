-- The append-only run log (SPEC §5) and source marks.
CREATE SEQUENCE IF NOT EXISTS run_ids START 1;

CREATE TABLE IF NOT EXISTS runs (
    run_id         BIGINT NOT NULL DEFAULT nextval('run_ids'),
    table_name     VARCHAR NOT NULL,
    env            VARCHAR NOT NULL,
    action         VARCHAR NOT NULL,
    interval_start TIMESTAMP,
    interval_end   TIMESTAMP,
    status         VARCHAR NOT NULL,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    fingerprint    VARCHAR NOT NULL,
    git_commit     VARCHAR,
    triggered_by   VARCHAR NOT NULL,
    as_of          TIMESTAMP NOT NULL,
    rows_written   BIGINT,
    error          VARCHAR,
    sql            VARCHAR,
    upstream_runs  VARCHAR NOT NULL,
    -- the smallest upstream watermark the run read: a replace table's watermark
    read_watermark TIMESTAMP
);

CREATE TABLE IF NOT EXISTS source_marks (
    source    VARCHAR NOT NULL,
    env       VARCHAR NOT NULL,
    through   TIMESTAMP NOT NULL,
    marked_at TIMESTAMP NOT NULL,
    marked_by VARCHAR NOT NULL
);
