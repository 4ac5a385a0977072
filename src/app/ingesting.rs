//! The ingest side of `derived ingest`, `derived worker` and `derived serve`:
//! one thread per stream source lands micro-batches and wakes the planner when
//! readers have something new.

use crate::ingest::{self, Broker, Ingest, IngestTotals};
use crate::metadata::MetadataStore;
use crate::project::Source;
use crate::serve::Metrics;
use crate::warehouse::Warehouse;
use anyhow::Result;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one fetch waits for a first message; also how soon a stop is seen.
const WAIT: Duration = Duration::from_millis(500);
/// How long a failed feed waits before it reconnects.
const RETRY: Duration = Duration::from_secs(5);

/// Where one stream source's events come from and go to.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub source: &'a Source,
    pub warehouse: &'a dyn Warehouse,
    pub metadata: &'a dyn MetadataStore,
    pub env: &'a str,
    /// Go on after events the broker removed before they landed.
    pub allow_gap: bool,
}

/// A stream source being consumed: its state opened, its broker connected.
pub struct Feed<'a> {
    target: Target<'a>,
    ingest: Ingest<'a>,
    broker: Box<dyn Broker>,
}

/// Opens a source for ingest: landing table, position, replay, broker.
pub fn open<'a>(target: Target<'a>, replay_from: Option<&str>) -> Result<Feed<'a>> {
    let mut ingest = Ingest::open(target.source, target.warehouse, target.metadata, target.env)?;
    if let Some(files) = replay_from {
        ingest.replay(files)?;
        eprintln!(
            "{}: replayed {} archived event(s) from {files}",
            target.source.name, ingest.totals.replayed
        );
    }
    let broker = ingest::connect(ingest.stream(), ingest.position(), target.allow_gap)?;
    ingest.check_origin(broker.origin())?;
    Ok(Feed {
        target,
        ingest,
        broker,
    })
}

/// What the ingest threads share with the planning loop.
pub struct Shared<'s> {
    pub stop: &'s AtomicBool,
    pub wake: Sender<String>,
    pub exit_when_idle: bool,
    pub batch: usize,
    pub errors: &'s Mutex<Vec<String>>,
    /// Feeds still landing; counted down before the last wake-up, so the
    /// planner that wakes sees it.
    pub active: &'s AtomicUsize,
    pub metrics: &'s Metrics,
}

/// Counts a feed out however its thread ends, a panic included.
struct Finished<'s>(&'s Shared<'s>, String);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        let _ = self.0.wake.send(format!("ingest of {} ended", self.1));
    }
}

/// Lands batches until stopped (or, with `exit_when_idle`, caught up). An
/// error is kept for the report; a long-running feed then reconnects after a
/// pause, a one-shot one (`exit_when_idle`) ends.
pub fn consume(mut feed: Feed, shared: &Shared) -> IngestTotals {
    let name = feed.target.source.name.to_string();
    let _finished = Finished(shared, name.clone());
    let mut totals = IngestTotals::default();
    loop {
        let result = consume_until_done(&mut feed, shared);
        add(&mut totals, &feed.ingest.totals);
        let Err(e) = result else { break };
        let message = format!("{name}: {e:#}");
        eprintln!("ingest: {message}");
        shared
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
        if shared.exit_when_idle {
            break;
        }
        match reopen(feed.target, shared) {
            Some(fresh) => feed = fresh,
            None => break,
        }
    }
    totals
}

/// Connects again after `RETRY`, until it works or the worker stops.
fn reopen<'a>(target: Target<'a>, shared: &Shared) -> Option<Feed<'a>> {
    loop {
        let resume = Instant::now() + RETRY;
        while Instant::now() < resume {
            if shared.stop.load(Ordering::Relaxed) {
                return None;
            }
            std::thread::sleep(WAIT);
        }
        match open(target, None) {
            Ok(feed) => return Some(feed),
            Err(e) => eprintln!("ingest: {}: {e:#}", target.source.name),
        }
    }
}

fn add(total: &mut IngestTotals, part: &IngestTotals) {
    total.batches += part.batches;
    total.events += part.events;
    total.landed += part.landed;
    total.duplicates += part.duplicates;
    total.late += part.late;
    total.rejected += part.rejected;
    total.replayed += part.replayed;
    total.watermark = total.watermark.max(part.watermark);
}

fn consume_until_done(feed: &mut Feed, shared: &Shared) -> Result<()> {
    while !shared.stop.load(Ordering::Relaxed) {
        let fetched = feed.broker.fetch(shared.batch, WAIT)?;
        let idle = fetched.caught_up && fetched.messages.is_empty();
        if !fetched.messages.is_empty() {
            let before = feed.ingest.totals.clone();
            let news = feed.ingest.land(fetched.messages)?;
            let name = feed.target.source.name.as_str();
            shared.metrics.ingested(name, &before, &feed.ingest.totals);
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
