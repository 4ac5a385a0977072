//! The ingest side of `derived ingest` and `derived worker`: one thread per
//! stream source lands micro-batches and wakes the planner when readers have
//! something new.

use crate::ingest::{self, Broker, Ingest, IngestTotals};
use crate::metadata::MetadataStore;
use crate::project::Source;
use crate::serve::Metrics;
use crate::warehouse::Warehouse;
use anyhow::Result;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::Duration;

/// How long one fetch waits for a first message; also how soon a stop is seen.
const WAIT: Duration = Duration::from_millis(500);

/// A stream source ready to consume: its state opened, its replay done.
pub struct Stream<'a> {
    ingest: Ingest<'a>,
    broker: Box<dyn Broker>,
}

/// Opens a source for ingest: landing table, position, replay, broker.
pub fn open<'a>(
    source: &'a Source,
    warehouse: &'a dyn Warehouse,
    metadata: &'a dyn MetadataStore,
    env: &'a str,
    replay_from: Option<&str>,
) -> Result<Stream<'a>> {
    let mut ingest = Ingest::open(source, warehouse, metadata, env)?;
    if let Some(files) = replay_from {
        ingest.replay(files)?;
        eprintln!(
            "{}: replayed {} archived event(s) from {files}",
            source.name, ingest.totals.replayed
        );
    }
    let broker = ingest::connect(ingest.stream(), ingest.position())?;
    Ok(Stream { ingest, broker })
}

/// What the ingest threads share with the planning loop.
pub struct Shared<'s> {
    pub stop: &'s AtomicBool,
    pub wake: Sender<String>,
    pub exit_when_idle: bool,
    pub batch: usize,
    pub errors: &'s Mutex<Vec<String>>,
    /// Streams still landing; counted down before the last wake-up, so the
    /// planner that wakes sees it.
    pub active: &'s AtomicUsize,
    pub metrics: &'s Metrics,
}

/// Lands batches until stopped (or, with `exit_when_idle`, caught up); an
/// error ends this source's ingest and is kept for the report.
pub fn consume(mut stream: Stream, shared: &Shared) -> IngestTotals {
    let name = stream.ingest.source.name.to_string();
    if let Err(e) = consume_until_done(&mut stream, shared) {
        let message = format!("{name}: {e:#}");
        eprintln!("ingest: {message}");
        shared
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }
    shared.active.fetch_sub(1, Ordering::SeqCst);
    let _ = shared.wake.send(format!("ingest of {name} ended"));
    stream.ingest.totals
}

fn consume_until_done(stream: &mut Stream, shared: &Shared) -> Result<()> {
    while !shared.stop.load(Ordering::Relaxed) {
        let fetched = stream.broker.fetch(shared.batch, WAIT)?;
        let idle = fetched.caught_up && fetched.messages.is_empty();
        if !fetched.messages.is_empty() {
            let before = stream.ingest.totals.clone();
            let news = stream.ingest.land(fetched.messages)?;
            let name = stream.ingest.source.name.as_str();
            shared
                .metrics
                .ingested(name, &before, &stream.ingest.totals);
            if news {
                let _ = shared.wake.send("ingest".into());
            }
        }
        if idle && shared.exit_when_idle {
            break;
        }
    }
    Ok(())
}
