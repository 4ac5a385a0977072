//! What `derived serve` exposes over HTTP: `/health` (JSON) and `/metrics`
//! (Prometheus text: runs by status, run durations, lag per table, leases,
//! stream events by outcome and stream lag).

use crate::exec::RunReport;
use crate::ingest::IngestTotals;
use crate::metadata::RunStatus;
use crate::plan::Plan;
use crate::time::Timestamp;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabel {
    table: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    source: String,
    outcome: String,
}

/// A worker's counters, updated after every loop and read by the HTTP endpoint.
pub struct Metrics {
    registry: Registry,
    runs: Family<StatusLabel, Counter>,
    durations: Histogram,
    lag: Family<TableLabel, Gauge<f64, AtomicU64>>,
    paused: Family<TableLabel, Gauge>,
    deferred: Counter,
    loops: Counter,
    events: Family<EventLabel, Counter>,
    source_lag: Family<SourceLabel, Gauge<f64, AtomicU64>>,
    health: Mutex<Health>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub loops: u64,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub last_loop_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let runs = Family::<StatusLabel, Counter>::default();
        let durations = Histogram::new(exponential_buckets(0.01, 2.0, 16));
        let lag = Family::<TableLabel, Gauge<f64, AtomicU64>>::default();
        let paused = Family::<TableLabel, Gauge>::default();
        let deferred = Counter::default();
        let loops = Counter::default();
        let events = Family::<EventLabel, Counter>::default();
        let source_lag = Family::<SourceLabel, Gauge<f64, AtomicU64>>::default();
        registry.register("derived_runs", "Runs finished by this worker", runs.clone());
        registry.register(
            "derived_run_duration_seconds",
            "Wall time of runs finished by this worker",
            durations.clone(),
        );
        registry.register(
            "derived_table_lag_seconds",
            "Now minus the table's watermark, at the worker's last plan",
            lag.clone(),
        );
        registry.register(
            "derived_table_paused",
            "1 while the table is paused (`derived pause`), 0 once resumed",
            paused.clone(),
        );
        registry.register(
            "derived_deferred",
            "Planned tables left for later (another worker held them, or the log moved on)",
            deferred.clone(),
        );
        registry.register(
            "derived_worker_loops",
            "Plan-claim-run loops",
            loops.clone(),
        );
        registry.register(
            "derived_ingest_events",
            "Stream events by outcome: landed, duplicate, late, rejected",
            events.clone(),
        );
        registry.register(
            "derived_source_lag_seconds",
            "Now minus a stream source's watermark, after its latest batch",
            source_lag.clone(),
        );
        Metrics {
            registry,
            runs,
            durations,
            lag,
            paused,
            deferred,
            loops,
            events,
            source_lag,
            health: Mutex::new(Health {
                status: "starting",
                ..Health::default()
            }),
        }
    }
}

impl Metrics {
    /// What a fresh plan says about every table's lag.
    pub fn planned(&self, plan: &Plan, now: Timestamp) {
        for (table, projection) in &plan.nodes {
            let label = TableLabel {
                table: table.to_string(),
            };
            let paused = projection.held_by.first() == Some(table);
            if paused || self.paused.get(&label).is_some() {
                self.paused.get_or_create(&label).set(i64::from(paused));
            }
            if let Some(watermark) = projection.watermark {
                let lag = (now - watermark).num_milliseconds() as f64 / 1000.0;
                self.lag
                    .get_or_create(&TableLabel {
                        table: table.to_string(),
                    })
                    .set(lag.max(0.0));
            }
        }
    }

    /// One loop finished with this report (or failed before running anything).
    pub fn looped(&self, report: Option<&RunReport>, error: Option<String>, now: Timestamp) {
        self.loops.inc();
        if let Some(report) = report {
            for run in &report.runs {
                let status = match run.status {
                    RunStatus::Success => "success",
                    RunStatus::Failed => "failed",
                    RunStatus::Running => "running",
                };
                self.runs
                    .get_or_create(&StatusLabel {
                        status: status.into(),
                    })
                    .inc();
                self.durations.observe(run.seconds);
            }
            self.deferred.inc_by(report.deferred.len() as u64);
        }
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        health.loops += 1;
        health.last_loop_at = Some(now);
        health.status = if error.is_some() { "degraded" } else { "ok" };
        health.last_error = error;
    }

    /// What one landed batch of `source` added.
    pub fn ingested(&self, source: &str, before: &IngestTotals, after: &IngestTotals) {
        let outcomes = [
            ("landed", after.landed - before.landed),
            ("duplicate", after.duplicates - before.duplicates),
            ("late", after.late - before.late),
            ("rejected", after.rejected - before.rejected),
        ];
        for (outcome, count) in outcomes {
            self.events
                .get_or_create(&EventLabel {
                    source: source.to_string(),
                    outcome: outcome.to_string(),
                })
                .inc_by(count);
        }
        if let Some(watermark) = after.watermark {
            let lag = (chrono::Utc::now() - watermark).num_milliseconds() as f64 / 1000.0;
            self.source_lag
                .get_or_create(&SourceLabel {
                    source: source.to_string(),
                })
                .set(lag.max(0.0));
        }
    }

    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The Prometheus (OpenMetrics) text of every metric.
    pub fn text(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

async fn health(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let health = metrics.health();
    let code = if health.status == "degraded" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(health))
}

async fn metrics_text(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.text(),
    )
}

/// Binds `addr` and serves `/health` and `/metrics` on a thread of its own.
pub fn spawn(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .with_state(metrics);
    std::thread::spawn(move || {
        if let Err(e) = runtime.block_on(async { axum::serve(listener, app).await }) {
            tracing::error!("HTTP endpoint stopped: {e}");
        }
    });
    Ok(bound)
}
