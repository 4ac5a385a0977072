//! `derived worker`, `serve` and `ingest`: flags, signals and the HTTP
//! endpoint around the worker loop of [`crate::app::worker`].

use super::progress::Lines;
use super::{output, Format, Outcome};
use crate::app::worker::{self, Control, WorkerOptions};
use crate::app::Settings;
use crate::serve::{self, Metrics};
use anyhow::{anyhow, Result};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

pub fn duration(flag: &str, text: &str) -> Result<Duration> {
    crate::time::Duration::parse(text)
        .map(|d| Duration::from_secs(d.seconds() as u64))
        .map_err(|e| anyhow!("--{flag}: {e}"))
}

/// Runs the worker until it stops; `listen` serves /health and /metrics.
pub fn worker_command(
    s: &Settings,
    format: Format,
    options: &WorkerOptions,
    listen: Option<SocketAddr>,
) -> Result<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let (wake, wakeups) = mpsc::channel();
    on_termination(stop.clone(), wake.clone())?;
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = listen {
        let bound = serve::spawn(addr, metrics.clone())?;
        eprintln!("serving /health and /metrics on http://{bound}");
    }
    let control = Control {
        stop: &stop,
        wake,
        wakeups,
        metrics: &metrics,
        progress: &Lines,
    };
    let report = worker::work(s, options, control)?;
    let mut stdout = output::run_report(&report.runs, format);
    if let Some(ingest) = &options.ingest {
        stdout = output::ingest_report(
            ingest.source,
            report.ingested.as_ref(),
            &report.ingest_errors,
            stdout,
            format,
        );
    }
    Ok(Outcome {
        stdout,
        code: u8::from(report.failed(options)),
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
