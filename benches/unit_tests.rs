//! What 100 unit tests cost on DuckDB. Run with `cargo bench --bench unit_tests`.
//!
//! Writes a project of 25 tables with 4 tests each (a join, a window, an
//! aggregate over given rows) and times `derived test` in-process: the first
//! call (the load parses every definition) and the median of the next five
//! (the load comes from the cache). Every test must pass.

use clap::Parser;
use derived::cli::{self, Cli};
use std::path::Path;
use std::time::Instant;

const TABLES: usize = 25;
const TESTS_PER_TABLE: usize = 4;

fn project(dir: &Path) {
    let write = |relative: &str, text: &str| {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "tables/raw/events.yml",
        "name: raw.events\nkind: source\ntime_column: ts\nfreshness: {method: always}\ncolumns:\n  - {name: ts, type: TIMESTAMP}\n  - {name: user_id, type: BIGINT}\n  - {name: kind, type: VARCHAR}\n",
    );
    write(
        "tables/raw/users.yml",
        "name: raw.users\nkind: source\nfreshness: {method: always}\ncolumns:\n  - {name: user_id, type: BIGINT}\n  - {name: country, type: VARCHAR}\n",
    );
    for t in 0..TABLES {
        let mut tests = String::new();
        for n in 0..TESTS_PER_TABLE {
            let users = n + 1;
            let rows: String = (0..users)
                .map(|u| {
                    format!(
                        "        - {{ts: \"2024-01-02 1{u}:00:00\", user_id: {u}, kind: text}}\n"
                    )
                })
                .collect();
            tests.push_str(&format!(
                "  - name: case_{n}
    interval: 2024-01-02
    given:
      raw.events:
{rows}        - {{ts: \"2024-01-03 00:00:00\", user_id: 99, kind: text}}
      raw.users:
        - {{user_id: 0, country: FR}}
    expect:
      - {{day: 2024-01-02, country: FR, users: 1, events: 1, first_rank: 1}}
{}",
                if users > 1 {
                    format!("      - {{day: 2024-01-02, country: null, users: {}, events: {}, first_rank: 1}}\n", users - 1, users - 1)
                } else {
                    String::new()
                }
            ));
        }
        write(
            &format!("tables/core/t{t}.yml"),
            &format!(
                "name: core.t{t}
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: |
  WITH ranked AS (
    SELECT e.*, row_number() OVER (PARTITION BY e.user_id ORDER BY e.ts) AS rank
    FROM raw.events AS e
    WHERE e.ts >= {{{{ start }}}} AND e.ts < {{{{ end }}}}
  )
  SELECT CAST(r.ts AS DATE) AS day, u.country, count(DISTINCT r.user_id) AS users,
         count(*) AS events, min(r.rank) AS first_rank
  FROM ranked AS r LEFT JOIN raw.users AS u ON u.user_id = r.user_id
  GROUP BY 1, 2
tests:
{tests}"
            ),
        );
    }
}

fn run_tests(dir: &Path) -> f64 {
    let args = [
        "derived",
        "--project",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "test",
    ];
    let started = Instant::now();
    let outcome = cli::run(Cli::try_parse_from(args).unwrap()).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let report: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(outcome.code, 0, "{report:#}");
    assert_eq!(report["passed"], TABLES * TESTS_PER_TABLE);
    seconds
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let first = run_tests(dir.path());
    let mut warm: Vec<f64> = (0..5).map(|_| run_tests(dir.path())).collect();
    warm.sort_by(f64::total_cmp);
    let tests = TABLES * TESTS_PER_TABLE;
    println!("{tests} unit tests on DuckDB, first call (definitions parsed): {first:.3} s");
    println!(
        "{tests} unit tests on DuckDB, cached definitions, median of 5: {:.3} s",
        warm[2]
    );
}
