//! What the benchmarks share: settings from the environment, psql, and the
//! 10,000-table bench project with a full log.
#![allow(dead_code)]

use derived::metadata::duckdb::DuckDbMetadata;
use derived::project::Project;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `sql` with psql (PostgreSQL's client); its output, trimmed.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-qAt", url, "-c", sql])
        .output()
        .expect("psql (PostgreSQL's client) is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Successful one-interval runs per table in [`fill_log`].
pub const RUNS_PER_TABLE: i64 = 100;

/// `../shared/bench/gen.py --tables 10000 --no-data` in `tmp`, or the project
/// `DERIVED_BENCH_PROJECT` names.
pub fn bench_project(tmp: &Path) -> PathBuf {
    match std::env::var("DERIVED_BENCH_PROJECT") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => generated(tmp, 10_000),
    }
}

/// The derived project of `gen.py --tables N --no-data`, written in `tmp`.
pub fn generated(tmp: &Path, tables: usize) -> PathBuf {
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen.py");
    let out = tmp.join(format!("p{tables}"));
    let status = Command::new("python3")
        .arg(&gen)
        .args(["--tables", &tables.to_string(), "--no-data", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs gen.py");
    assert!(status.success(), "gen.py failed");
    out.join("derived")
}

/// RUNS_PER_TABLE consecutive successful one-interval runs per table, written in bulk.
pub fn fill_log(project: &Project, path: &Path) -> i64 {
    drop(DuckDbMetadata::open(path).unwrap());
    let conn = duckdb::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TEMP TABLE defs (table_name VARCHAR, fingerprint VARCHAR, step_hours BIGINT)",
    )
    .unwrap();
    let mut appender = conn.appender("defs").unwrap();
    for t in project.tables() {
        let hours: i64 = if t.schedule.name() == "hourly" { 1 } else { 24 };
        appender
            .append_row(duckdb::params![t.name.as_str(), t.fingerprint, hours])
            .unwrap();
    }
    drop(appender);
    conn.execute_batch(&format!(
        "INSERT INTO runs (table_name, env, action, interval_start, interval_end, status, started_at, finished_at,
                           fingerprint, triggered_by, as_of, rows_written, upstream_runs, read_watermark)
         SELECT table_name, 'prod', 'increment',
                TIMESTAMP '2024-01-01' + to_hours(i * step_hours), TIMESTAMP '2024-01-01' + to_hours((i + 1) * step_hours),
                'success', now(), now(), fingerprint, 'scheduler', now(), 1, '[]',
                TIMESTAMP '2024-01-01' + to_hours((i + 1) * step_hours)
         FROM defs, range({RUNS_PER_TABLE}) AS r(i) ORDER BY i"
    ))
    .unwrap();
    conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap()
}
