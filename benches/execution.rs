//! Execution overhead on embedded DuckDB. Run with `cargo bench --bench execution`.
//!
//! 1. 1,000 hourly intervals of a trivial append table, one statement each:
//!    orchestration overhead per interval = (wall time − time inside the
//!    warehouse's writes) / 1,000; the metadata log writes count as overhead.
//! 2. Creating an hourly append table over one year (8,760 intervals) with the
//!    default batching.

use derived::app::{self, Scope, Settings, Stores};
use derived::env::Env;
use derived::env::PhysicalName;
use derived::exec::{NoProgress, Progress};
use derived::metadata::duckdb::DuckDbMetadata;
use derived::metadata::RunId;
use derived::plan::Plan;
use derived::project::checks::{CheckOutcome, PreparedCheck};
use derived::project::Source;
use derived::time::{parse_timestamp, Timestamp};
use derived::warehouse::duckdb::DuckDbWarehouse;
use derived::warehouse::{self, QueryResult, Warehouse, WriteOutcome, WriteRequest};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Measures the time spent inside the warehouse's writes.
struct Timed {
    inner: DuckDbWarehouse,
    nanos: Arc<AtomicU64>,
}

impl Timed {
    fn timed<T>(&self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        self.nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }
}

impl Warehouse for Timed {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn dialect(&self) -> warehouse::Dialect {
        self.inner.dialect()
    }
    fn columns(&self, name: &PhysicalName) -> warehouse::Result<Vec<(String, String)>> {
        self.inner.columns(name)
    }
    fn prepare_sources(&self, sources: &[&Source], root: &Path) -> warehouse::Result<()> {
        self.inner.prepare_sources(sources, root)
    }
    fn max_time(&self, source: &Source) -> warehouse::Result<Option<Timestamp>> {
        self.inner.max_time(source)
    }
    fn create_schemas(&self, schemas: &[String]) -> warehouse::Result<()> {
        self.inner.create_schemas(schemas)
    }
    fn write(&self, request: &WriteRequest) -> warehouse::Result<WriteOutcome> {
        self.timed(|| self.inner.write(request))
    }
    fn rebuild(
        &self,
        rebuild: &warehouse::Rebuild,
        build: &mut dyn FnMut(&dyn warehouse::FreshTable) -> warehouse::Result<()>,
    ) -> warehouse::Result<u64> {
        self.timed(|| self.inner.rebuild(rebuild, build))
    }

    fn check(
        &self,
        rows: &PhysicalName,
        checks: &[PreparedCheck],
    ) -> warehouse::Result<Vec<CheckOutcome>> {
        self.inner.check(rows, checks)
    }
    fn committed(&self, run_ids: &[RunId]) -> warehouse::Result<BTreeMap<RunId, u64>> {
        self.inner.committed(run_ids)
    }
    fn query(&self, sql: &str) -> warehouse::Result<QueryResult> {
        self.inner.query(sql)
    }
    fn drop_env(&self, env: &derived::env::Env) -> warehouse::Result<usize> {
        self.inner.drop_env(env)
    }
    fn table_exists(&self, name: &PhysicalName) -> warehouse::Result<bool> {
        self.inner.table_exists(name)
    }
}

fn main() {
    let (wall, inside, runs) = build(
        "batch_size: 1\n",
        "2024-01-01T00:00:00Z",
        "2024-02-11T16:00:00Z",
    );
    assert_eq!(runs, 1_000);
    let overhead_ms = (wall - inside) * 1_000.0 / runs as f64;
    println!("1,000 hourly intervals, one statement each: wall {wall:.2} s, inside DuckDB {inside:.2} s, overhead {overhead_ms:.2} ms per interval");

    let (wall, _, runs) = build("", "2024-01-01T00:00:00Z", "2024-12-31T00:00:00Z");
    println!(
        "hourly append table over 8,760 intervals, batched into {runs} statements: {wall:.2} s"
    );
}

/// Builds one hourly table over `[start, now)`; returns (wall s, write s, runs).
fn build(extra: &str, start: &str, now: &str) -> (f64, f64, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("tables")).unwrap();
    std::fs::write(
        root.join("tables/events.yml"),
        "name: raw.events\nkind: source\ntime_column: ts\nfreshness: {method: always}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("tables/hourly.yml"),
        format!(
            "name: hourly.counts\nschedule: hourly\nstrategy: append\ntime_column: hour\nstart: {start}\n{extra}sql: |\n  \
             SELECT date_trunc('hour', ts) AS hour, count(*) AS n FROM raw.events\n  WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}} GROUP BY ALL\n"
        ),
    )
    .unwrap();
    let nanos = Arc::new(AtomicU64::new(0));
    let warehouse = Timed {
        inner: DuckDbWarehouse::open(&root.join("w.duckdb")).unwrap(),
        nanos: nanos.clone(),
    };
    warehouse
        .inner
        .query(&format!(
            "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '{}' + to_minutes(i * 6) AS ts FROM range(0, 90000) AS r(i)",
            &start[..10]
        ))
        .unwrap();
    let stores = Stores::new(
        Box::new(warehouse),
        Box::new(DuckDbMetadata::open(&root.join("m.duckdb")).unwrap()),
    );
    let now = parse_timestamp(now).unwrap();
    let settings = Settings::new(root.to_path_buf(), Env::Prod, None, Some(now));
    let started = Instant::now();
    let loaded = app::load_valid(&settings).unwrap();
    let progress = |_: &Plan| -> Box<dyn Progress> { Box::new(NoProgress) };
    let report = app::run::run(
        &settings,
        &loaded,
        &stores,
        Scope::default(),
        Some(1),
        &progress,
    )
    .unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        report.runs.iter().find(|r| r.error.is_some())
    );
    (
        wall,
        nanos.load(Ordering::Relaxed) as f64 / 1e9,
        report.runs.len(),
    )
}
