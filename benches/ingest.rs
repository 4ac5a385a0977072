//! Streaming ingest on this machine: the sustained landing rate from NATS
//! JetStream into DuckDB, and the latency from publishing the event that
//! completes an hour to that hour's table being built.
//!
//! `cargo bench --bench ingest` (needs NATS JetStream at 127.0.0.1:4222 and
//! PostgreSQL at 127.0.0.1:5432 for the latency log). DERIVED_BENCH_EVENTS
//! (default 500000) and DERIVED_BENCH_HOURS (20) change the size.

mod common;
#[path = "../tests/common/nats.rs"]
mod nats;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use common::{psql, setting};
use nats::Jet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

const HOURLY: &str = "name: hourly.live
schedule: hourly
strategy: append
time_column: hour
start: 2024-01-01
sql: |
  SELECT date_trunc('hour', event_ts) AS hour, count(*) AS events, sum(amount) AS amount
  FROM raw.live
  WHERE event_ts >= {{ start }} AND event_ts < {{ end }}
  GROUP BY ALL
";

fn event(n: u64, at: DateTime<Utc>) -> String {
    serde_json::json!({"event_id": format!("e{n}"), "event_ts": at.to_rfc3339(), "user_id": n % 97, "amount": n % 1000})
        .to_string()
}

fn project(jet: &Jet, hourly: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    std::fs::write(tables.join("live.yml"), jet.source_yaml("raw.live")).unwrap();
    if hourly {
        std::fs::write(tables.join("hourly.yml"), HOURLY).unwrap();
    }
    dir
}

fn derived(dir: &tempfile::TempDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_derived"));
    command.arg("--project").arg(dir.path());
    command
}

/// Publishes `events` events (one a second of event time, over 4 partitions)
/// and times `ingest --exit-when-idle` landing them.
fn throughput(events: usize, hourly: bool) -> f64 {
    let jet = Jet::new(if hourly {
        "bench_rate_hourly"
    } else {
        "bench_rate"
    });
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let messages: Vec<_> = (0..events as u64)
        .map(|n| (jet.subject(n % 4), event(n, base + Span::seconds(n as i64))))
        .collect();
    jet.publish(&messages);
    let dir = project(&jet, hourly);
    let started = Instant::now();
    let out = derived(&dir)
        .args(["ingest", "raw.live", "--exit-when-idle", "--format", "json"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ingest"]["landed"], events as u64);
    println!(
        "ingest{}: {events} events in {seconds:.2} s = {:.0} events/s ({} batches, {} hourly runs)",
        if hourly { " + hourly table" } else { "" },
        events as f64 / seconds,
        report["ingest"]["batches"],
        report["succeeded"]
    );
    events as f64 / seconds
}

/// Each hour: 4 events per partition inside it, then the event on every
/// partition that moves the watermark past its end; the time from that
/// publish to the hour's successful run in the log.
fn latency(hours: usize) -> Vec<f64> {
    let jet = Jet::new("bench_latency");
    let database = format!("derived_bench_ingest_{}", std::process::id());
    let admin = format!("{SERVER}/test");
    psql(&admin, &format!("CREATE DATABASE {database}"));
    let url = format!("{SERVER}/{database}");
    let dir = project(&jet, true);
    let mut child = derived(&dir)
        .args(["ingest", "raw.live", "--poll", "1h"])
        .env("DERIVED_METADATA_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut n = 0;
    let mut samples = Vec::new();
    for hour in 0..hours as i64 {
        let start = base + Span::hours(hour);
        let end = start + Span::hours(1);
        let mut messages = Vec::new();
        for partition in 0..4 {
            for minute in [5, 20, 35, 50] {
                messages.push((
                    jet.subject(partition),
                    event(n, start + Span::minutes(minute)),
                ));
                n += 1;
            }
        }
        jet.publish(&messages);
        std::thread::sleep(Duration::from_millis(300));
        let crossing: Vec<_> = (0..4)
            .map(|partition| {
                n += 1;
                (jet.subject(partition), event(n, end + Span::seconds(31)))
            })
            .collect();
        let published = Utc::now();
        let waiting = Instant::now();
        jet.publish(&crossing);
        let query = format!(
            "SELECT coalesce(max(extract(epoch FROM finished_at) * 1000), 0) FROM derived.runs \
             WHERE table_name = 'hourly.live' AND status = 'success' AND interval_start = '{}'",
            start.format("%Y-%m-%d %H:%M:%S+00")
        );
        loop {
            let finished: f64 = psql(&url, &query).parse().unwrap();
            if finished > 0.0 {
                samples.push(finished - published.timestamp_micros() as f64 / 1000.0);
                break;
            }
            assert!(
                waiting.elapsed() < Duration::from_secs(30),
                "hour {hour} was not built"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    psql(&admin, &format!("DROP DATABASE {database} WITH (FORCE)"));
    samples
}

fn main() {
    let events = setting("DERIVED_BENCH_EVENTS", 500_000);
    let hours = setting("DERIVED_BENCH_HOURS", 20);
    throughput(events, false);
    throughput(events, true);
    let mut samples = latency(hours);
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "publish -> hour's run finished ({hours} hours): median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        at(0.5),
        at(0.9),
        at(1.0)
    );
}
