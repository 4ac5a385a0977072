//! `derived worker` and `derived serve`: plan, claim, run, record, over and
//! over. Several workers share one PostgreSQL metadata store: each table runs
//! under a lease, so the work spreads over them and nothing runs twice.

use super::progress::Lines;
use super::{load_valid, now, open_stores, output, situation, Global, Outcome, Scope};
use crate::exec::{self, RunContext, RunReport};
use crate::serve::{self, Metrics};
use anyhow::{anyhow, Result};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
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
    if let Some(leases) = stores.metadata.leases() {
        leases.set_ttl(lease_ttl);
    }
    let _listening = stores.metadata.wakeups()?.map(|w| forward(w, wake));
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = flags.listen {
        let bound = serve::spawn(addr, metrics.clone())?;
        eprintln!("serving /health and /metrics on http://{bound}");
    }
    let git_commit = loaded.commit_of_runs(g);
    let threads = flags.threads.unwrap_or_else(super::default_threads);
    let mut total = RunReport::default();
    let mut last_retry: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = now(g)?;
        let retry = last_retry.is_none_or(|t| t.elapsed() >= retry_after);
        if retry {
            last_retry = Some(Instant::now());
        }
        let scope = Scope {
            failures_persist: !retry,
            ..Scope::default()
        };
        let s = match situation(&loaded, &stores, g, now, scope) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("worker: cannot plan: {e:#}");
                metrics.looped(None, Some(format!("{e:#}")), now);
                if flags.exit_when_idle {
                    return Err(e);
                }
                wait(&wakeups, poll);
                continue;
            }
        };
        metrics.planned(&s.plan, now);
        if s.plan.actions.is_empty() {
            metrics.looped(None, None, now);
            total.blocked = s.plan.blocked;
            if flags.exit_when_idle {
                break;
            }
            wait(&wakeups, poll);
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
            stop: Some(&stop),
        };
        let report = exec::execute(&ctx, &s.plan, &s.snapshot);
        metrics.looped(Some(&report), report.setup_error.clone(), now);
        let nothing_ran = report.runs.is_empty();
        absorb(&mut total, report);
        if nothing_ran {
            // Other workers hold the work, or a dead one's leases have yet to expire.
            wait(&wakeups, poll.min(Duration::from_secs(1)));
        }
    }
    let code = u8::from(flags.exit_when_idle && total.failed > 0);
    Ok(Outcome {
        stdout: output::run_report(&total, g.format),
        code,
    })
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
