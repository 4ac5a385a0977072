//! The worker loop behind `derived worker`, `serve` and `ingest`: plan, claim,
//! run, record, over and over. Several workers share one PostgreSQL metadata
//! store: each table runs under a lease, so the work spreads over them and
//! nothing runs twice. Stream sources land beside the loop, one thread each.

use super::ingesting::{self, Shared};
use super::{default_threads, load_valid, open_stores, situation, Loaded, Scope, Settings, Stores};
use crate::exec::{self, Progress, RunContext, RunReport};
use crate::ingest::IngestTotals;
use crate::project::{Node, TableName};
use crate::serve::Metrics;
use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct WorkerOptions<'a> {
    pub threads: Option<usize>,
    /// Stop once nothing is due and no stream is landing.
    pub exit_when_idle: bool,
    /// How often to re-plan when nothing wakes the worker.
    pub poll: Duration,
    pub lease_ttl: Duration,
    /// How long a failed table waits before the worker tries it again.
    pub retry_after: Duration,
    /// `ingest`: the one stream source to land (a worker lands every one).
    pub ingest: Option<IngestOptions<'a>>,
}

pub struct IngestOptions<'a> {
    pub source: &'a str,
    pub replay_from: Option<&'a str>,
    pub batch: usize,
    pub allow_gap: bool,
}

/// How the process talks to the loop: a stop flag, wake-ups (signals,
/// notifications, landed batches) and the metrics `serve` exposes.
pub struct Control<'c> {
    pub stop: &'c AtomicBool,
    pub wake: Sender<String>,
    pub wakeups: Receiver<String>,
    pub metrics: &'c Metrics,
    pub progress: &'c dyn Progress,
}

/// What a worker did until it stopped.
pub struct WorkerReport {
    pub runs: RunReport,
    /// The ingested source's totals (`ingest` only).
    pub ingested: Option<IngestTotals>,
    pub ingest_errors: Vec<String>,
}

impl WorkerReport {
    /// A one-shot worker fails when a run failed; `ingest` also on an ingest error.
    pub fn failed(&self, options: &WorkerOptions) -> bool {
        (options.exit_when_idle && self.runs.failed > 0)
            || (options.ingest.is_some() && !self.ingest_errors.is_empty())
    }
}

pub fn work(
    settings: &Settings,
    options: &WorkerOptions,
    control: Control,
) -> Result<WorkerReport> {
    let loaded = load_valid(settings)?;
    let stores = open_stores(&loaded.project)?;
    super::run::recover(settings, &stores)?;
    if let Some(leases) = stores.metadata.leases() {
        leases.set_ttl(options.lease_ttl);
    }
    let _listening = stores
        .metadata
        .wakeups()?
        .map(|w| forward(w, control.wake.clone()));
    let (streams, selection) = streams(settings, &loaded, &stores, options)?;
    let errors = Mutex::new(Vec::new());
    let active = AtomicUsize::new(streams.len());
    let shared = Shared {
        stop: control.stop,
        wake: control.wake.clone(),
        exit_when_idle: options.exit_when_idle,
        batch: options.ingest.as_ref().map_or(10_000, |i| i.batch),
        errors: &errors,
        active: &active,
        metrics: control.metrics,
    };
    let looped = std::thread::scope(|scope| {
        let ingests: Vec<_> = streams
            .into_iter()
            .map(|stream| scope.spawn(|| ingesting::consume(stream, &shared)))
            .collect();
        let looped = plan_and_run(
            settings,
            &loaded,
            &stores,
            options,
            Loop {
                selection: selection.as_ref(),
                control: &control,
                active: &active,
                errors: &errors,
            },
        );
        control.stop.store(true, Ordering::Relaxed);
        let totals: Vec<IngestTotals> = ingests.into_iter().filter_map(|h| h.join().ok()).collect();
        looped.map(|report| (report, totals))
    });
    let (runs, totals) = looped?;
    Ok(WorkerReport {
        runs,
        ingested: options
            .ingest
            .as_ref()
            .map(|_| totals.into_iter().next().unwrap_or_default()),
        ingest_errors: errors.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// The stream sources to land, opened, and the tables to keep fresh: all of
/// them for a worker, the source's readers for `ingest`.
fn streams<'a>(
    settings: &'a Settings,
    loaded: &'a Loaded,
    stores: &'a Stores,
    options: &WorkerOptions,
) -> Result<(Vec<ingesting::Feed<'a>>, Option<BTreeSet<TableName>>)> {
    let allow_gap = options.ingest.as_ref().is_some_and(|i| i.allow_gap);
    let open = |source, replay_from| {
        let target = ingesting::Target {
            source,
            warehouse: stores.warehouse()?,
            metadata: stores.metadata.as_ref(),
            env: settings.env.name(),
            allow_gap,
        };
        ingesting::open(target, replay_from)
    };
    if let Some(ingest) = &options.ingest {
        let name = loaded.known_name(ingest.source)?;
        let Some(source) = loaded
            .project
            .get(&name)
            .and_then(Node::as_source)
            .filter(|s| s.stream.is_some())
        else {
            bail!(
                "`{}` is not a stream source; add a `stream:` block to its definition (SPEC §2)",
                ingest.source
            );
        };
        let stream = open(source, ingest.replay_from)?;
        return Ok((vec![stream], Some(loaded.dag.all_downstream(&name))));
    }
    let mut streams = Vec::new();
    for source in loaded.project.sources().filter(|s| s.stream.is_some()) {
        match open(source, None) {
            Ok(stream) => streams.push(stream),
            Err(e) => eprintln!("worker: not ingesting {}: {e:#}", source.name),
        }
    }
    Ok((streams, None))
}

/// What the planning loop watches besides the metadata store.
struct Loop<'l> {
    selection: Option<&'l BTreeSet<TableName>>,
    control: &'l Control<'l>,
    /// Streams still landing (more work may come).
    active: &'l AtomicUsize,
    /// Ingest errors; a one-shot `ingest` ends at the first.
    errors: &'l Mutex<Vec<String>>,
}

fn plan_and_run(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    options: &WorkerOptions,
    l: Loop,
) -> Result<RunReport> {
    let Control {
        stop,
        wakeups,
        metrics,
        progress,
        ..
    } = l.control;
    let poll = options.poll;
    let git_commit = loaded.commit_of_runs(settings);
    let threads = options.threads.unwrap_or_else(default_threads);
    let mut total = RunReport::default();
    let mut last_retry: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = settings.now();
        let ingest_failed = !l.errors.lock().is_ok_and(|e| e.is_empty());
        if options.ingest.is_some() && options.exit_when_idle && ingest_failed {
            break;
        }
        let ingesting = l.active.load(Ordering::SeqCst) > 0;
        let retry = last_retry.is_none_or(|t| t.elapsed() >= options.retry_after);
        if retry {
            last_retry = Some(Instant::now());
        }
        let scope = Scope {
            selection: l.selection,
            hold_failed: !retry,
            ..Scope::default()
        };
        let s = match situation(settings, loaded, stores, now, scope) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("worker: cannot plan: {e:#}");
                metrics.looped(None, Some(format!("{e:#}")), now);
                if options.exit_when_idle {
                    return Err(e);
                }
                wait(wakeups, poll);
                continue;
            }
        };
        metrics.planned(&s.plan, now);
        if s.plan.actions.is_empty() {
            metrics.looped(None, None, now);
            total.blocked = s.plan.blocked;
            if options.exit_when_idle && !ingesting {
                break;
            }
            wait(wakeups, poll);
            continue;
        }
        let ctx = RunContext {
            project: &loaded.project,
            dag: &loaded.dag,
            warehouse: stores.warehouse()?,
            metadata: stores.metadata.as_ref(),
            env: &settings.env,
            as_of: now,
            triggered_by: "scheduler",
            git_commit: git_commit.as_deref(),
            threads,
            progress: *progress,
            env_tables: None,
            stop: Some(stop),
        };
        let report = exec::execute(&ctx, &s.plan, &s.snapshot);
        metrics.looped(Some(&report), report.setup_error.clone(), now);
        let nothing_ran = report.runs.is_empty();
        absorb(&mut total, report);
        if nothing_ran {
            // Other workers hold the work, or a dead one's leases have yet to expire.
            wait(wakeups, poll.min(Duration::from_secs(1)));
        }
    }
    Ok(total)
}

/// Runs add up over loops; what is blocked or deferred is the last loop's word.
fn absorb(total: &mut RunReport, report: RunReport) {
    total.succeeded += report.succeeded;
    total.failed += report.failed;
    total.runs.extend(report.runs);
    total.blocked = report.blocked;
    total.deferred = report.deferred;
    total.setup_error = report.setup_error;
    total.lease_seconds += report.lease_seconds;
}

/// Sleeps until `timeout` or the first notification, then drains the rest:
/// one re-plan answers any number of them.
fn wait(wakeups: &Receiver<String>, timeout: Duration) {
    if wakeups.recv_timeout(timeout).is_ok() {
        while wakeups.try_recv().is_ok() {}
    }
}

/// Passes the metadata store's notifications to the worker's wake-up channel.
fn forward(w: crate::metadata::Wakeups, wake: Sender<String>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _listening = w.listener;
        while let Ok(message) = w.receiver.recv() {
            if wake.send(message).is_err() {
                return;
            }
        }
    })
}
