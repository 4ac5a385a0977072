//! A full build against the floor, on the same engine. `cargo bench --bench build`.
//!
//! The floor is what DuckDB costs alone: `../shared/bench/floor.py --mode spec`
//! redone on the DuckDB Derived embeds, so that the ratio measures the
//! orchestrator and not two DuckDB versions. One connection builds every table
//! in DAG order with the statements Derived's plan makes for a first build:
//! one `CREATE TABLE AS` over the whole range for a table that batches, one per
//! interval for a table whose window is longer than its period, the last
//! interval for a replace table. Then `derived run` builds the same project from
//! an empty state, in-process. The two alternate `DERIVED_BENCH_RUNS` (3)
//! times; the medians are printed, and every table's row count must agree.
//!
//! Then the no-op `run` that follows the build, as a process (goal 3 of
//! performance at scale: under 0.1 s): the median of `DERIVED_BENCH_RUNS` × 5.
//!
//! The project is `gen.py --tables 50` (with data) in `DERIVED_BENCH_BUILD`,
//! else generated with `$BENCH_VENV/bin/python` (gen.py writes Parquet with
//! the `duckdb` module).

mod common;

use clap::Parser;
use common::setting;
use derived::cli::{self, Cli};
use derived::project::template::RenderContext;
use derived::project::{self, Project, Strategy, Table};
use derived::time::{parse_timestamp, Interval, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn main() {
    let runs = setting("DERIVED_BENCH_RUNS", 3);
    let tmp = tempfile::tempdir().expect("temp dir");
    let bench = match std::env::var("DERIVED_BENCH_BUILD") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => generate(tmp.path()),
    };
    let root = bench.join("derived");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bench.join("bench.json")).unwrap()).unwrap();
    let at = |key: &str| parse_timestamp(manifest[key].as_str().unwrap()).unwrap();
    let range = Interval::new(at("start"), at("end")).unwrap();
    let project = project::load(&root);
    assert!(!project.has_errors(), "the bench project validates");

    let mut floor_times = Vec::new();
    let mut derived_times = Vec::new();
    let mut counts = (BTreeMap::new(), BTreeMap::new());
    for _ in 0..runs {
        let db = tmp.path().join("floor.duckdb");
        let _ = std::fs::remove_file(&db);
        let started = Instant::now();
        floor(&project, &db, range);
        floor_times.push(started.elapsed().as_secs_f64());
        counts.0 = row_counts(&db, &project);

        let _ = std::fs::remove_dir_all(root.join(".derived"));
        let started = Instant::now();
        derived_build(&root, &project, range.end());
        derived_times.push(started.elapsed().as_secs_f64());
        counts.1 = row_counts(&root.join(".derived/warehouse.duckdb"), &project);
    }
    assert_eq!(
        counts.0, counts.1,
        "the floor and derived build the same rows"
    );
    let (floor, derived) = (median(floor_times), median(derived_times));
    println!(
        "full build of {} tables, medians of {runs}: floor {floor:.2} s, derived {derived:.2} s: {:.2}x the floor",
        counts.0.len(),
        derived / floor
    );
    let noop = median(
        (0..runs * 5)
            .map(|_| noop_run(&root, range.end()))
            .collect(),
    );
    println!("no-op run after it, as a process: {:.1} ms", noop * 1000.0);
}

/// One `derived run` process with nothing to do; its wall time.
fn noop_run(root: &Path, end: Timestamp) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_derived"))
        .arg("--project")
        .arg(root)
        .args([
            "--format",
            "json",
            "run",
            "--now",
            &derived::time::format_ts(end),
        ])
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["succeeded"], 0, "nothing is due: {report}");
    wall
}

fn generate(tmp: &Path) -> PathBuf {
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen.py");
    let python = std::env::var("BENCH_VENV")
        .map(|venv| format!("{venv}/bin/python"))
        .unwrap_or_else(|_| "python3".into());
    let out = tmp.join("p50");
    let status = Command::new(&python)
        .arg(&gen)
        .args(["--tables", "50", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python runs gen.py");
    assert!(
        status.success(),
        "gen.py failed: it needs the duckdb module (set BENCH_VENV, see ../shared/bench/peers.sh)"
    );
    out
}

/// Every table built by DuckDB alone, as Derived's plan for a first build would.
fn floor(project: &Project, db: &Path, range: Interval) {
    let conn = duckdb::Connection::open(db).unwrap();
    let schemas: BTreeSet<&str> = project.nodes.iter().map(|n| n.name().dataset()).collect();
    for schema in schemas {
        conn.execute_batch(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
    }
    for source in project.sources() {
        let location = source.location.as_ref().expect("bench sources are files");
        let path = project.root.join(&location.path);
        conn.execute_batch(&format!(
            "CREATE VIEW {} AS SELECT * FROM read_parquet('{}')",
            source.name,
            path.display()
        ))
        .unwrap();
    }
    for table in in_dag_order(project) {
        for (i, batch) in batches(table, range).into_iter().enumerate() {
            let this = table.name.to_string();
            let ctx = RenderContext {
                input: table.input_range(batch),
                interval: batch,
                this: &this,
                env: "prod",
                is_first_build: true,
                rows: None,
            };
            let sql = project.renderer.render(&table.sql, &ctx).unwrap();
            let statement = if i == 0 {
                format!("CREATE TABLE {this} AS {sql}")
            } else {
                format!("INSERT INTO {this} {sql}")
            };
            conn.execute_batch(&statement).unwrap();
        }
    }
}

fn batches(table: &Table, range: Interval) -> Vec<Interval> {
    let period = table.schedule.period().chrono();
    let intervals = || {
        let mut out = Vec::new();
        let mut start = range.start();
        while start < range.end() {
            out.push(Interval::new(start, start + period).unwrap());
            start += period;
        }
        out
    };
    match table.strategy {
        Strategy::Replace => vec![Interval::new(range.end() - period, range.end()).unwrap()],
        _ if table.can_batch() => vec![range],
        Strategy::Append => intervals(),
        Strategy::Merge => panic!("{}: a merge table without time_column", table.name),
    }
}

fn in_dag_order(project: &Project) -> Vec<&Table> {
    let mut done: BTreeSet<&str> = project.sources().map(|s| s.name.as_str()).collect();
    let mut order = Vec::new();
    let mut pending: Vec<&Table> = project.tables().collect();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|t| t.upstreams.iter().all(|u| done.contains(u.as_str())))
            .expect("no cycle");
        let table = pending.remove(ready);
        done.insert(table.name.as_str());
        order.push(table);
    }
    order
}

fn derived_build(root: &Path, project: &Project, end: Timestamp) {
    let end = derived::time::format_ts(end);
    let cli = |args: &[&str]| {
        let mut all = vec![
            "derived",
            "--project",
            root.to_str().unwrap(),
            "--now",
            &end,
        ];
        all.extend_from_slice(args);
        cli::run(Cli::try_parse_from(all).unwrap()).unwrap()
    };
    for source in project.sources() {
        cli(&["source", "mark", source.name.as_str(), "--through", &end]);
    }
    let run = cli(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

fn row_counts(db: &Path, project: &Project) -> BTreeMap<String, i64> {
    let conn = duckdb::Connection::open(db).unwrap();
    project
        .tables()
        .map(|t| {
            let count = conn
                .query_row(&format!("SELECT count(*) FROM {}", t.name), [], |r| {
                    r.get(0)
                })
                .unwrap();
            (t.name.to_string(), count)
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
