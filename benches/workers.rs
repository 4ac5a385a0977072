//! Load: many trivial tables built by several worker processes sharing one
//! PostgreSQL metadata store and warehouse. Prints completed runs per second
//! and the time spent on leases.
//!
//! `cargo bench --bench workers` (needs PostgreSQL at 127.0.0.1:5432).
//! DERIVED_BENCH_TABLES (default 10000), DERIVED_BENCH_PROCESSES (4) and
//! DERIVED_BENCH_THREADS (4 per process) change the shape.

mod common;

use common::{psql, setting};
use std::process::{Command, Stdio};
use std::time::Instant;

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
/// Tables per layer: layer n reads layer n-1, so workers wait on each other.
const LAYER: usize = 1000;

fn main() {
    let tables = setting("DERIVED_BENCH_TABLES", 10_000);
    let processes = setting("DERIVED_BENCH_PROCESSES", 4);
    let threads = setting("DERIVED_BENCH_THREADS", 4);
    let database = format!("derived_bench_workers_{}", std::process::id());
    let admin = format!("{SERVER}/test");
    psql(&admin, &format!("CREATE DATABASE {database}"));
    let url = format!("{SERVER}/{database}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("derived.yml"),
        format!("warehouse: {{type: postgres, url: '{url}'}}\nmetadata: {{type: postgres, url: '{url}', schema: derived}}\ndialect: postgres\n"),
    )
    .unwrap();
    let folder = dir.path().join("tables");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..tables {
        let sql = if i < LAYER {
            format!("SELECT {i} AS x")
        } else {
            format!("SELECT x + 1 AS x FROM bench.t{}", i - LAYER)
        };
        std::fs::write(
            folder.join(format!("t{i}.yml")),
            format!("name: bench.t{i}\nschedule: daily\nstrategy: replace\nstart: 2024-01-01\nsql: {sql}\n"),
        )
        .unwrap();
    }

    let started = Instant::now();
    let workers: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_derived"))
                .arg("--project")
                .arg(dir.path())
                .args(["worker", "--exit-when-idle", "--threads"])
                .arg(threads.to_string())
                .args(["--now", "2024-01-02T01:00:00Z", "--format", "json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut per_process = Vec::new();
    let mut lease_seconds = 0.0;
    for worker in workers {
        let out = worker.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker failed");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        per_process.push(report["succeeded"].as_u64().unwrap());
        lease_seconds += report["lease_seconds"].as_f64().unwrap_or(0.0);
    }
    let wall = started.elapsed().as_secs_f64();

    let succeeded: usize = psql(
        &url,
        "SELECT count(*) FROM derived.runs WHERE status = 'success'",
    )
    .parse()
    .unwrap();
    let repeated = psql(
        &url,
        "SELECT count(*) FROM (SELECT table_name FROM derived.runs WHERE status = 'success' GROUP BY 1 HAVING count(*) > 1) t",
    );
    psql(&admin, &format!("DROP DATABASE {database} WITH (FORCE)"));
    assert_eq!(succeeded, tables, "every table built");
    assert_eq!(repeated, "0", "no table built twice");
    println!(
        "workers: {tables} tables, {processes} processes x {threads} threads: {wall:.1} s, {:.0} runs/s; \
         runs per process {per_process:?}; leases {:.1} s in all, {:.2} ms per run",
        tables as f64 / wall,
        lease_seconds,
        lease_seconds * 1000.0 / tables as f64
    );
}
