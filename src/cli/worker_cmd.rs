//! `derived worker` and `derived serve`: plan, claim, run, record, over and
//! over. Several workers share one PostgreSQL metadata store: each table runs
//! under a lease, so the work spreads over them and nothing runs twice.
//! `derived ingest` is the same loop over one stream source's readers, with
//! that source's events landing beside it.

use super::ingesting::{self, Shared};
use super::progress::Lines;
use super::{
    known_name, load_valid, now, open_stores, output, situation, Global, Loaded, Outcome, Scope,
    Stores,
};
use crate::exec::{self, RunContext, RunReport};
use crate::ingest::IngestTotals;
use crate::serve::{self, Metrics};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct WorkerFlags<'a> {
    pub threads: Option<usize>,
    pub exit_when_idle: bool,
    /// How often to re-plan when nothing wakes the worker.
    pub poll: &'a str,
    pub lease_ttl: &'a str,
    /// How long a failed table waits before the worker tries it again.
    pub retry_after: &'a str,
    /// `serve`: where to answer /health and /metrics.
    pub listen: Option<SocketAddr>,
    /// `ingest`: the one stream source to land (a worker lands every one).
    pub ingest: Option<IngestFlags<'a>>,
}

pub struct IngestFlags<'a> {
    pub source: &'a str,
    pub replay_from: Option<&'a str>,
    pub batch: usize,
    pub allow_gap: bool,
}

fn duration(flag: &str, text: &str) -> Result<Duration> {
    crate::time::Duration::parse(text)
        .map(|d| Duration::from_secs(d.seconds() as u64))
        .map_err(|e| anyhow!("--{flag}: {e}"))
}

pub fn worker_command(g: &Global, flags: &WorkerFlags) -> Result<Outcome> {
    let poll = duration("poll", flags.poll)?;
    let lease_ttl = duration("lease-ttl", flags.lease_ttl)?;
    let retry_after = duration("retry-after", flags.retry_after)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (wake, wakeups) = mpsc::channel();
    on_termination(stop.clone(), wake.clone())?;
    let loaded = load_valid(g)?;
    let stores = open_stores(&loaded.project)?;
    super::recover(&stores, g)?;
    if let Some(leases) = stores.metadata.leases() {
        leases.set_ttl(lease_ttl);
    }
    let _listening = stores.metadata.wakeups()?.map(|w| forward(w, wake.clone()));
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = flags.listen {
        let bound = serve::spawn(addr, metrics.clone())?;
        eprintln!("serving /health and /metrics on http://{bound}");
    }
    let (streams, selection) = streams(g, &loaded, &stores, flags)?;
    let errors = Mutex::new(Vec::new());
    let active = AtomicUsize::new(streams.len());
    let shared = Shared {
        stop: &stop,
        wake,
        exit_when_idle: flags.exit_when_idle,
        batch: flags.ingest.as_ref().map_or(10_000, |i| i.batch),
        errors: &errors,
        active: &active,
        metrics: &metrics,
    };
    let looped = std::thread::scope(|scope| {
        let ingests: Vec<_> = streams
            .into_iter()
            .map(|stream| scope.spawn(|| ingesting::consume(stream, &shared)))
            .collect();
        let looped = work(
            g,
            &loaded,
            &stores,
            flags,
            Loop {
                selection: selection.as_ref(),
                stop: &stop,
                wakeups: &wakeups,
                metrics: &metrics,
                poll,
                retry_after,
                active: &active,
                errors: &errors,
            },
        );
        stop.store(true, Ordering::Relaxed);
        let totals: Vec<IngestTotals> = ingests.into_iter().filter_map(|h| h.join().ok()).collect();
        looped.map(|report| (report, totals))
    });
    let (total, totals) = looped?;
    let errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    let failed = flags.exit_when_idle && total.failed > 0;
    let code = u8::from(failed || (flags.ingest.is_some() && !errors.is_empty()));
    let mut stdout = output::run_report(&total, g.format);
    if let Some(ingest) = &flags.ingest {
        stdout = output::ingest_report(ingest.source, totals.first(), &errors, stdout, g.format);
    }
    Ok(Outcome { stdout, code })
}

/// The stream sources to land, opened, and the tables to keep fresh: all of
/// them for a worker, the source's readers for `ingest`.
fn streams<'a>(
    g: &'a Global,
    loaded: &'a Loaded,
    stores: &'a Stores,
    flags: &WorkerFlags,
) -> Result<(
    Vec<ingesting::Feed<'a>>,
    Option<BTreeSet<crate::project::TableName>>,
)> {
    let allow_gap = flags.ingest.as_ref().is_some_and(|i| i.allow_gap);
    let open = |source, replay_from| {
        let target = ingesting::Target {
            source,
            warehouse: stores.warehouse.as_ref(),
            metadata: stores.metadata.as_ref(),
            env: &g.env,
            allow_gap,
        };
        ingesting::open(target, replay_from)
    };
    if let Some(ingest) = &flags.ingest {
        let name = known_name(loaded, ingest.source)?;
        let Some(source) = loaded
            .project
            .get(&name)
            .and_then(crate::project::Node::as_source)
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
    selection: Option<&'l BTreeSet<crate::project::TableName>>,
    stop: &'l AtomicBool,
    wakeups: &'l Receiver<String>,
    metrics: &'l Metrics,
    poll: Duration,
    retry_after: Duration,
    /// Streams still landing (more work may come).
    active: &'l AtomicUsize,
    /// Ingest errors; a one-shot `ingest` ends at the first.
    errors: &'l Mutex<Vec<String>>,
}

fn work(
    g: &Global,
    loaded: &Loaded,
    stores: &Stores,
    flags: &WorkerFlags,
    l: Loop,
) -> Result<RunReport> {
    let (stop, wakeups, metrics, poll) = (l.stop, l.wakeups, l.metrics, l.poll);
    let git_commit = loaded.commit_of_runs(g);
    let threads = flags.threads.unwrap_or_else(super::default_threads);
    let mut total = RunReport::default();
    let mut last_retry: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = now(g)?;
        let ingest_failed = !l.errors.lock().is_ok_and(|e| e.is_empty());
        if flags.ingest.is_some() && flags.exit_when_idle && ingest_failed {
            break;
        }
        let ingesting = l.active.load(Ordering::SeqCst) > 0;
        let retry = last_retry.is_none_or(|t| t.elapsed() >= l.retry_after);
        if retry {
            last_retry = Some(Instant::now());
        }
        let scope = Scope {
            selection: l.selection,
            hold_failed: !retry,
            ..Scope::default()
        };
        let s = match situation(loaded, stores, g, now, scope) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("worker: cannot plan: {e:#}");
                metrics.looped(None, Some(format!("{e:#}")), now);
                if flags.exit_when_idle {
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
            if flags.exit_when_idle && !ingesting {
                break;
            }
            wait(wakeups, poll);
            continue;
        }
        let ctx = RunContext {
            project: &loaded.project,
            dag: &loaded.dag,
            warehouse: stores.warehouse.as_ref(),
            metadata: stores.metadata.as_ref(),
            env: &g.env,
            as_of: now,
            triggered_by: "scheduler",
            git_commit: git_commit.as_deref(),
            threads,
            progress: &Lines,
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

/// SIGTERM or Ctrl-C: start nothing new, finish the runs under way, release
/// their leases and exit 0. A second signal exits at once.
fn on_termination(stop: Arc<AtomicBool>, wake: Sender<String>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut term, mut int) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            for round in 0.. {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if round > 0 {
                    std::process::exit(130);
                }
                eprintln!("worker: stopping after the runs under way (signal again to exit now)");
                stop.store(true, Ordering::Relaxed);
                let _ = wake.send("stop".into());
            }
        })
    });
    Ok(())
}
