//! Performance at scale, through the release binary. `cargo bench --bench scale`.
//!
//! The 10,000-table bench project (`gen.py --no-data`, or
//! `DERIVED_BENCH_PROJECT`) with a log of 100 successful runs per table
//! (1,000,000 rows) and its sources marked complete, so nothing is due:
//! 1. cold `validate` and `plan` (no cache): wall time and peak memory;
//!    with `DERIVED_BENCH_LARGE=1` also 100,000 tables;
//! 2. the same, and a no-op `run`, with the caches filled;
//! 3. the worker's planning loop with nothing due: CPU time per loop.
//!
//! Each command figure is the median of `DERIVED_BENCH_RUNS` (5) processes.

mod common;

use common::{bench_project, fill_log, generated, setting};
use derived::app::{self, Scope, Settings};
use derived::env::Env;
use derived::project::{self, Project};
use derived::time::parse_timestamp;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const NOW: &str = "2024-01-05T04:00:00Z";

fn main() {
    let runs = setting("DERIVED_BENCH_RUNS", 5);
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = bench_project(tmp.path());
    let project = project::load(&root);
    assert!(!project.has_errors(), "the bench project validates");
    let tables = project.nodes.len();
    built(&root, &project);

    println!("{tables} definitions, nothing due at {NOW}; medians of {runs} processes");
    for args in [&["validate"][..], &["plan", "--now", NOW]] {
        let (wall, rss) = median(runs, || {
            let _ = std::fs::remove_dir_all(app::cache::folder(&root));
            timed(&root, args)
        });
        println!(
            "  cold {:<8} {:>7.1} ms  {:>5} MB",
            args[0],
            ms(wall),
            rss / 1024
        );
    }
    for args in [
        &["validate"][..],
        &["plan", "--now", NOW],
        &["run", "--now", NOW],
    ] {
        timed(&root, args);
        let (wall, rss) = median(runs, || timed(&root, args));
        println!(
            "  warm {:<8} {:>7.1} ms  {:>5} MB",
            args[0],
            ms(wall),
            rss / 1024
        );
    }
    worker_loop(&root);

    if std::env::var("DERIVED_BENCH_LARGE").is_ok_and(|v| v == "1") {
        let large = generated(tmp.path(), 100_000);
        let (wall, rss) = median(1, || timed(&large, &["validate"]));
        println!(
            "100000 definitions: cold validate {:.2} s, {} MB",
            wall.as_secs_f64(),
            rss / 1024
        );
        let (wall, _) = median(runs, || timed(&large, &["validate"]));
        println!("100000 definitions: warm validate {:.1} ms", ms(wall));
    }
}

/// A fresh log in which every table is built through NOW.
fn built(root: &Path, project: &Project) {
    let _ = std::fs::remove_dir_all(root.join(".derived"));
    std::fs::create_dir_all(root.join(".derived")).unwrap();
    fill_log(project, &root.join(".derived/metadata.duckdb"));
    for source in project.sources() {
        let name = source.name.to_string();
        let out = derived(root)
            .args(["source", "mark", &name, "--through", NOW, "--now", NOW])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let plan = derived(root)
        .args(["plan", "--now", NOW, "--format", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan prints JSON");
    assert_eq!(plan["actions"], serde_json::json!([]), "nothing is due");
}

fn derived(root: &Path) -> Command {
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "%M", env!("CARGO_BIN_EXE_derived"), "--project"])
        .arg(root);
    command
}

/// Wall time and peak resident memory (KB) of one command, which must succeed.
fn timed(root: &Path, args: &[&str]) -> (Duration, u64) {
    let started = Instant::now();
    let out = derived(root).args(args).output().unwrap();
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    let rss = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (wall, rss)
}

fn median(runs: usize, mut f: impl FnMut() -> (Duration, u64)) -> (Duration, u64) {
    let mut samples: Vec<(Duration, u64)> = (0..runs.max(1)).map(|_| f()).collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What one pass of the worker's loop costs when nothing is due: the plan
/// from the log's current version, as `derived worker` makes it.
fn worker_loop(root: &Path) {
    const LOOPS: u32 = 20;
    let now = parse_timestamp(NOW).unwrap();
    let settings = Settings::new(root.to_path_buf(), Env::Prod, None, Some(now));
    let loaded = app::load_valid(&settings).unwrap();
    let stores = app::open_stores(&loaded.project).unwrap();
    let first = app::situation(&settings, &loaded, &stores, now, Scope::default()).unwrap();
    assert!(first.plan.actions.is_empty(), "nothing is due");
    let cpu = cpu_time();
    let started = Instant::now();
    for _ in 0..LOOPS {
        let s = app::situation(&settings, &loaded, &stores, now, Scope::default()).unwrap();
        assert!(s.plan.actions.is_empty());
    }
    let wall = started.elapsed() / LOOPS;
    let cpu = (cpu_time() - cpu) / LOOPS;
    println!(
        "  worker loop, nothing due: {:.1} ms CPU, {:.1} ms wall per loop",
        ms(cpu),
        ms(wall)
    );
}

/// CPU time of this process so far, every thread, at 10 ms ticks.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name: state (field 3) first; utime and stime are
    // fields 14 and 15, in clock ticks of 10 ms.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields[i - 3].parse::<u64>().unwrap();
    Duration::from_millis((ticks(14) + ticks(15)) * 10)
}
