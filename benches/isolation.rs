//! What one bad interval costs. Run with `cargo bench --bench isolation`.
//!
//! An hourly append table is created over 1,000 hours, which the default
//! batching makes one statement: once with clean data, once with one hour whose
//! data fails a cast. Prints the attempts (log rows) and wall time of each, and
//! checks that the 999 clean hours landed.

use clap::Parser;
use derived::cli::{self, Cli};
use std::path::Path;
use std::time::Instant;

const HOURS: i64 = 1_000;

fn project(dir: &Path, bad_hour: Option<i64>) {
    std::fs::create_dir_all(dir.join("tables")).unwrap();
    std::fs::create_dir_all(dir.join(".derived")).unwrap();
    std::fs::write(
        dir.join("tables/raw.yml"),
        "name: raw.events\nkind: source\ntime_column: ts\nfreshness: {method: always}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tables/hourly.yml"),
        "name: core.hourly
schedule: hourly
strategy: append
time_column: hour
start: 2024-01-01
sql: |
  SELECT date_trunc('hour', ts) AS hour, sum(CAST(payload AS INTEGER)) AS total
  FROM raw.events WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY 1
",
    )
    .unwrap();
    let bad = bad_hour.map_or(String::new(), |h| {
        format!("UPDATE raw.events SET payload = 'bad' WHERE ts = TIMESTAMP '2024-01-01 00:05:00' + INTERVAL {h} HOUR;")
    });
    let conn = duckdb::Connection::open(dir.join(".derived/warehouse.duckdb")).unwrap();
    conn.execute_batch(&format!(
        "CREATE SCHEMA raw;
         CREATE TABLE raw.events AS
         SELECT TIMESTAMP '2024-01-01 00:05:00' + INTERVAL (h * 60 + m) MINUTE AS ts, '1' AS payload
         FROM range({HOURS}) t(h), range(0, 60, 5) u(m);
         {bad}"
    ))
    .unwrap();
}

fn run(bad_hour: Option<i64>) -> (usize, f64, i64) {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), bad_hour);
    let now = "2024-02-11T16:00:00Z";
    let args = [
        "derived",
        "--project",
        dir.path().to_str().unwrap(),
        "--now",
        now,
        "run",
    ];
    let started = Instant::now();
    let outcome = cli::run(Cli::try_parse_from(args).unwrap()).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let log = [
        "derived",
        "--project",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
        "log",
        "core.hourly",
        "--limit",
        "100000",
    ];
    let attempts = cli::run(Cli::try_parse_from(log).unwrap())
        .unwrap()
        .stdout
        .lines()
        .count();
    let conn = duckdb::Connection::open(dir.path().join(".derived/warehouse.duckdb")).unwrap();
    let hours: i64 = conn
        .query_row("SELECT count(*) FROM core.hourly", [], |r| r.get(0))
        .unwrap();
    assert_eq!(outcome.code, u8::from(bad_hour.is_some()));
    (attempts, seconds, hours)
}

fn main() {
    let (clean_attempts, clean_seconds, clean_hours) = run(None);
    assert_eq!(clean_hours, HOURS);
    println!("{HOURS} hours in one batch, no bad hour: {clean_attempts} attempt(s), {clean_seconds:.2} s");
    let (attempts, seconds, hours) = run(Some(637));
    assert_eq!(hours, HOURS - 1, "every clean hour landed");
    println!(
        "{HOURS} hours in one batch, one bad hour: {attempts} attempts, {seconds:.2} s ({:.1}x the clean run)",
        seconds / clean_seconds
    );
}
