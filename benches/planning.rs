//! Planning at scale: `plan` over the 10,000-table bench project with a
//! 1,000,000-row log (nothing to run), and planning the repairs after a rebuild
//! at the top of the DAG. Run with `cargo bench --bench planning`.
//!
//! The project comes from `../shared/bench/gen.py --tables 10000 --no-data`
//! (generated into a temporary folder), or from `DERIVED_BENCH_PROJECT`.

use derived::dag::Dag;
use derived::metadata::duckdb::DuckDbMetadata;
use derived::metadata::{LogSnapshot, MetadataStore};
use derived::plan::{plan, PlanInput};
use derived::project::{self, Project, TableName};
use derived::time::{parse_timestamp, Duration, Timestamp};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

const RUNS_PER_TABLE: i64 = 100;

fn main() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = bench_project(tmp.path());
    let started = Instant::now();
    let project = project::load(&root);
    let (dag, problems) = Dag::build(&project);
    assert!(
        !project.has_errors() && problems.is_empty(),
        "the bench project validates"
    );
    println!(
        "load + validate {} tables: {:.3} s",
        project.nodes.len(),
        started.elapsed().as_secs_f64()
    );

    let now = parse_timestamp("2024-01-05T04:00:00Z").unwrap();
    let metadata_path = tmp.path().join("metadata.duckdb");
    let rows = fill_log(&project, &metadata_path);
    let store = DuckDbMetadata::open(&metadata_path).unwrap();
    let sources: HashMap<TableName, Timestamp> =
        project.sources().map(|s| (s.name.clone(), now)).collect();

    let started = Instant::now();
    let snapshot = store
        .snapshot("prod", Duration::from_seconds(86_400))
        .unwrap();
    let snapshot_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let nothing = plan(&input(&project, &dag, &snapshot, &sources, now));
    let plan_s = started.elapsed().as_secs_f64();
    assert!(
        nothing.actions.is_empty(),
        "everything is built: {:?}",
        nothing.actions.first()
    );
    println!("no-op plan over {rows} log rows: snapshot {snapshot_s:.3} s + plan {plan_s:.3} s = {:.3} s", snapshot_s + plan_s);

    let top = most_downstream(&project, &dag);
    let mut changed = project::load(&root);
    if let Some(project::Node::Table(t)) = changed.nodes.iter_mut().find(|n| n.name() == &top) {
        t.fingerprint.push_str("-changed");
    }
    let started = Instant::now();
    let cascade = plan(&input(&changed, &dag, &snapshot, &sources, now));
    let repairs = cascade
        .actions
        .iter()
        .filter(|a| a.kind.name() == "repair")
        .count();
    println!(
        "plan after changing {top} ({} downstream): {repairs} repairs + {} other actions in {:.3} s",
        dag.all_downstream(&top).len(),
        cascade.actions.len() - repairs,
        started.elapsed().as_secs_f64()
    );
}

fn input<'a>(
    project: &'a Project,
    dag: &'a Dag,
    log: &'a LogSnapshot,
    sources: &'a HashMap<TableName, Timestamp>,
    now: Timestamp,
) -> PlanInput<'a> {
    PlanInput {
        project,
        dag,
        log,
        source_watermarks: sources,
        now,
        selection: None,
        retry_failed: true,
        request: None,
        impact: None,
    }
}

fn bench_project(tmp: &Path) -> PathBuf {
    if let Ok(dir) = std::env::var("DERIVED_BENCH_PROJECT") {
        return PathBuf::from(dir);
    }
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen.py");
    let out = tmp.join("p10000");
    let status = std::process::Command::new("python3")
        .arg(&gen)
        .args(["--tables", "10000", "--no-data", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs gen.py");
    assert!(status.success(), "gen.py failed");
    out.join("derived")
}

/// RUNS_PER_TABLE consecutive successful one-interval runs per table, written in bulk.
fn fill_log(project: &Project, path: &Path) -> i64 {
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

fn most_downstream(project: &Project, dag: &Dag) -> TableName {
    project
        .tables()
        .max_by_key(|t| dag.all_downstream(&t.name).len())
        .map(|t| t.name.clone())
        .unwrap()
}
