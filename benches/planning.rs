//! Planning at scale: `plan` over the 10,000-table bench project with a
//! 1,000,000-row log (nothing to run), and planning the repairs after a rebuild
//! at the top of the DAG. Run with `cargo bench --bench planning`.
//!
//! The project comes from `../shared/bench/gen.py --tables 10000 --no-data`
//! (generated into a temporary folder), or from `DERIVED_BENCH_PROJECT`.

mod common;

use common::{bench_project, fill_log};
use derived::dag::Dag;
use derived::metadata::duckdb::DuckDbMetadata;
use derived::metadata::{LogSnapshot, MetadataStore};
use derived::plan::{plan, PlanInput};
use derived::project::{self, Project, TableName};
use derived::time::{parse_timestamp, Duration, Timestamp};
use std::collections::HashMap;
use std::time::Instant;

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

fn most_downstream(project: &Project, dag: &Dag) -> TableName {
    project
        .tables()
        .max_by_key(|t| dag.all_downstream(&t.name).len())
        .map(|t| t.name.clone())
        .unwrap()
}
