//! Streaming ingest: events from a broker landed into a source's table exactly
//! once, and the source's watermark advanced from their event times.
//!
//! Exactly once rests on two things the warehouse does in one transaction: it
//! inserts only event ids it does not hold yet, and it records the broker
//! position the batch ends at. A crash before the commit redelivers the batch;
//! a crash after it resumes after the batch.

#[cfg(feature = "duckdb")]
mod duckdb;
pub mod nats;

use crate::metadata::{self, MetadataStore};
use crate::project::{Source, Stream};
use crate::time::{parse_timestamp, Interval, Timestamp};
use crate::warehouse::{self, Warehouse};
use anyhow::{anyhow, Context, Result};
use std::collections::{BTreeMap, HashSet};

/// One message as the broker delivered it.
#[derive(Clone, Debug)]
pub struct Message {
    /// The concrete subject (topic partition) it was published to.
    pub partition: String,
    /// Its position in the stream; strictly increasing.
    pub sequence: u64,
    pub payload: Vec<u8>,
}

/// What one fetch returned; `caught_up` when the broker had nothing more.
pub struct Fetched {
    pub messages: Vec<Message>,
    pub caught_up: bool,
}

/// A broker's stream, read from a position on. Kafka or Pulsar plug in here.
pub trait Broker: Send {
    /// Up to `max` messages, waiting at most `wait` for the first one.
    fn fetch(&mut self, max: usize, wait: std::time::Duration) -> Result<Fetched>;
    /// Names this incarnation of the stream: a stream deleted and created
    /// again restarts its positions, and must not be resumed.
    fn origin(&self) -> &str;
}

/// Opens the broker of a stream, positioned after sequence `after`. Events
/// the broker removed before they landed are an error unless `allow_gap`.
pub fn connect(stream: &Stream, after: u64, allow_gap: bool) -> Result<Box<dyn Broker>> {
    match stream.broker {
        crate::project::BrokerKind::Nats => Ok(Box::new(nats::NatsBroker::connect(
            stream, after, allow_gap,
        )?)),
    }
}

/// A decoded event, ready to land.
#[derive(Clone, Debug)]
pub struct Event {
    pub sequence: u64,
    pub partition: String,
    pub event_id: String,
    pub event_time: Timestamp,
    /// The JSON object the columns are read from.
    pub payload: String,
}

/// A message that could not be decoded; kept beside the data, never dropped.
#[derive(Clone, Debug)]
pub struct Reject {
    pub sequence: u64,
    pub partition: String,
    pub payload: String,
    pub error: String,
}

/// One micro-batch: distinct events, rejects, and where the batch ends.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub rejects: Vec<Reject>,
    /// Duplicates of an event earlier in the same batch.
    pub duplicates: u64,
    pub first_sequence: u64,
    pub last_sequence: u64,
    /// The broker's `origin` of the stream the batch came from.
    pub origin: String,
    /// The largest event time per partition.
    pub partitions: BTreeMap<String, Timestamp>,
}

/// What the warehouse keeps about a stream: where to resume, how far each
/// partition got, and the late ranges it landed.
#[derive(Clone, Debug, Default)]
pub struct StreamState {
    pub position: u64,
    /// The broker's `origin` of the stream the position belongs to.
    pub origin: Option<String>,
    pub partitions: BTreeMap<String, Timestamp>,
    /// The latest event time of any replayed archive.
    pub replayed_through: Option<Timestamp>,
    pub late_ranges: Vec<Interval>,
}

/// What landing one batch (or a replay) did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Landed {
    /// Events new to the table.
    pub landed: u64,
    /// Events the table already held (redelivered or published twice).
    pub duplicates: u64,
    /// New events older than the watermark at landing.
    pub late: u64,
    /// Events that could not be read or do not fit the column types; kept in
    /// `_derived.stream_rejects`.
    pub rejected: u64,
    /// The event-time ranges of the late events (one per run of hours).
    pub late_ranges: Vec<Interval>,
}

/// Decodes messages into a batch. `after` is the position already landed:
/// anything at or before it is a redelivery and skipped.
pub fn decode(stream: &Stream, messages: Vec<Message>, after: u64) -> Batch {
    let mut batch = Batch::default();
    let mut seen = HashSet::new();
    for message in messages {
        if message.sequence <= after {
            continue;
        }
        if batch.first_sequence == 0 {
            batch.first_sequence = message.sequence;
        }
        batch.last_sequence = batch.last_sequence.max(message.sequence);
        if !stream
            .subjects
            .iter()
            .any(|s| subject_matches(s, &message.partition))
        {
            continue;
        }
        let payload = String::from_utf8_lossy(&message.payload).into_owned();
        match fields(stream, &payload) {
            Ok((event_id, event_time)) => {
                if !seen.insert(event_id.clone()) {
                    batch.duplicates += 1;
                    continue;
                }
                raise(&mut batch.partitions, &message.partition, event_time);
                batch.events.push(Event {
                    sequence: message.sequence,
                    partition: message.partition,
                    event_id,
                    event_time,
                    payload,
                });
            }
            Err(error) => batch.rejects.push(Reject {
                sequence: message.sequence,
                partition: message.partition,
                payload,
                error,
            }),
        }
    }
    batch
}

/// Keeps the latest event time seen per partition.
fn raise(latest: &mut BTreeMap<String, Timestamp>, partition: &str, time: Timestamp) {
    match latest.get_mut(partition) {
        Some(max) => *max = (*max).max(time),
        None => {
            latest.insert(partition.to_string(), time);
        }
    }
}

/// The event id (as text) and event time of a JSON payload.
fn fields(stream: &Stream, payload: &str) -> Result<(String, Timestamp), String> {
    let value: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let event_id = match object.get(&stream.event_id) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(format!("no `{}` (the event id)", stream.event_id)),
    };
    let event_time = match object.get(&stream.event_time) {
        Some(serde_json::Value::String(s)) => {
            parse_timestamp(s).map_err(|e| format!("`{}`: {e}", stream.event_time))?
        }
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .ok_or_else(|| format!("`{}`: {n} is not epoch milliseconds", stream.event_time))?,
        _ => return Err(format!("no `{}` (the event time)", stream.event_time)),
    };
    Ok((event_id, event_time))
}

/// NATS subject matching: `*` is one token, `>` the rest.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for part in pattern.split('.') {
        match (part, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// Totals over an ingest's lifetime, for its report.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct IngestTotals {
    pub batches: u64,
    pub events: u64,
    pub landed: u64,
    pub duplicates: u64,
    pub late: u64,
    pub rejected: u64,
    pub replayed: u64,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub watermark: Option<Timestamp>,
}

/// Where a stream source's events land: its landing table and bookkeeping,
/// each batch in one transaction with the position it ends at.
pub trait Landing: Sync {
    /// Creates the landing table and bookkeeping when missing; where ingest resumes.
    fn open_stream(&self, source: &Source) -> warehouse::Result<StreamState>;
    /// Lands a batch: only event ids the table does not hold yet, counting
    /// those older than `late_before`.
    fn land(
        &self,
        source: &Source,
        batch: &Batch,
        late_before: Option<Timestamp>,
    ) -> warehouse::Result<Landed>;
    /// Lands archived events (Parquet files) through the same dedup; returns
    /// what landed and the archive's latest event time.
    fn replay(
        &self,
        source: &Source,
        files: &str,
        late_before: Option<Timestamp>,
    ) -> warehouse::Result<(Landed, Option<Timestamp>)>;
}

/// The landing of a warehouse that lands streams (DuckDB).
pub fn landing(warehouse: &dyn Warehouse) -> Result<&dyn Landing> {
    #[cfg(feature = "duckdb")]
    if let Some(duckdb) = warehouse
        .as_any()
        .downcast_ref::<crate::warehouse::duckdb::DuckDbWarehouse>()
    {
        return Ok(duckdb);
    }
    let _ = warehouse;
    Err(anyhow!(
        "streaming ingest lands into the DuckDB warehouse only; this warehouse cannot land streams yet"
    ))
}

/// Lands one stream source: batches in, watermark marks and repair markers out.
pub struct Ingest<'a> {
    pub source: &'a Source,
    stream: &'a Stream,
    landing: &'a dyn Landing,
    metadata: &'a dyn MetadataStore,
    env: &'a str,
    state: StreamState,
    /// The source's mark; a new event older than it is late.
    watermark: Option<Timestamp>,
    pub totals: IngestTotals,
}

impl<'a> Ingest<'a> {
    /// Opens the source's landing table and state, and finishes what a process
    /// that died after a commit left undone: its mark and its repairs.
    pub fn open(
        source: &'a Source,
        warehouse: &'a dyn Warehouse,
        metadata: &'a dyn MetadataStore,
        env: &'a str,
    ) -> Result<Ingest<'a>> {
        let stream = source
            .stream
            .as_deref()
            .ok_or_else(|| anyhow!("`{}` has no `stream:` block to ingest", source.name))?;
        let landing = landing(warehouse)?;
        let state = landing.open_stream(source)?;
        let watermark = metadata.source_marks()?.get(&source.name).copied();
        let mut ingest = Ingest {
            source,
            stream,
            landing,
            metadata,
            env,
            state,
            watermark,
            totals: IngestTotals {
                watermark,
                ..IngestTotals::default()
            },
        };
        ingest.log_missing_repairs()?;
        ingest.advance()?;
        Ok(ingest)
    }

    pub fn position(&self) -> u64 {
        self.state.position
    }

    pub fn stream(&self) -> &Stream {
        self.stream
    }

    /// Refuses a broker whose stream is not the one the position belongs to.
    pub fn check_origin(&mut self, origin: &str) -> Result<()> {
        match &self.state.origin {
            Some(landed) if landed != origin => Err(anyhow!(
                "the stream `{}` was deleted and created again (it was {landed}, it is now {origin}); \
                 its positions restarted, so resuming would skip events. Land it under a new source \
                 name, or drop {} and its rows in _derived.stream_batches to start over",
                self.stream.stream,
                self.source.name
            )),
            _ => {
                self.state.origin = Some(origin.to_string());
                Ok(())
            }
        }
    }

    /// Lands one batch; true when readers have something new (a higher
    /// watermark or a repair).
    pub fn land(&mut self, messages: Vec<Message>) -> Result<bool> {
        let mut batch = decode(self.stream, messages, self.state.position);
        if batch.last_sequence == 0 {
            return Ok(false);
        }
        batch.origin = self.state.origin.clone().unwrap_or_default();
        self.totals.batches += 1;
        self.totals.events += (batch.events.len() + batch.rejects.len()) as u64 + batch.duplicates;
        let landed = self
            .landing
            .land(self.source, &batch, self.watermark)
            .with_context(|| {
                format!(
                    "landing {} (stream sequences {}..={})",
                    self.source.name, batch.first_sequence, batch.last_sequence
                )
            })?;
        self.state.position = batch.last_sequence;
        for (partition, time) in &batch.partitions {
            raise(&mut self.state.partitions, partition, *time);
        }
        self.totals.landed += landed.landed;
        self.totals.rejected += landed.rejected;
        self.totals.duplicates += batch.duplicates + landed.duplicates;
        let repaired = self.record(&landed)?;
        Ok(self.advance()? || repaired)
    }

    /// Loads archived events (Parquet) through the same dedup; the source is
    /// then complete through the archive's last event.
    pub fn replay(&mut self, files: &str) -> Result<bool> {
        let (landed, through) = self
            .landing
            .replay(self.source, files, self.watermark)
            .with_context(|| format!("replaying {files} into {}", self.source.name))?;
        self.totals.replayed += landed.landed;
        self.totals.duplicates += landed.duplicates;
        self.state.replayed_through = self.state.replayed_through.max(through);
        let repaired = self.record(&landed)?;
        Ok(self.advance()? || repaired)
    }

    /// Moves the watermark to min over partitions of max event time minus
    /// lateness (or to the end of a replayed archive, which is complete as it
    /// is); true when it moved.
    fn advance(&mut self) -> Result<bool> {
        let enough = self
            .stream
            .partitions
            .is_none_or(|n| self.state.partitions.len() >= n);
        let candidate = self
            .state
            .partitions
            .values()
            .min()
            .filter(|_| enough)
            .map(|t| *t - self.stream.lateness.chrono());
        match candidate.max(self.state.replayed_through) {
            Some(t) => self.mark(t),
            None => Ok(false),
        }
    }

    /// Counts a landing's late events and logs the repairs they need; true
    /// when there were any.
    fn record(&mut self, landed: &Landed) -> Result<bool> {
        self.totals.late += landed.late;
        for range in &landed.late_ranges {
            self.log_repair(*range)?;
        }
        Ok(!landed.late_ranges.is_empty())
    }

    /// Marks the source complete through `through` when that moves it forward;
    /// never past now, whatever time a producer's clock put on an event.
    fn mark(&mut self, through: Timestamp) -> Result<bool> {
        let through = through.min(chrono::Utc::now());
        if self.watermark.is_some_and(|w| w >= through) {
            return Ok(false);
        }
        self.metadata.mark_source(
            self.env,
            &self.source.name,
            through,
            chrono::Utc::now(),
            "ingest",
        )?;
        self.watermark = Some(through);
        self.totals.watermark = Some(through);
        Ok(true)
    }

    /// Late events rewrote a range readers may have read: log it like a source
    /// backfill, so that they repair.
    fn log_repair(&self, range: Interval) -> Result<()> {
        metadata::record_source_rewrite(
            self.metadata,
            self.env,
            &self.source.name,
            range,
            "ingest",
            chrono::Utc::now(),
        )?;
        Ok(())
    }

    /// Late ranges landed by a process that died before it logged their repair.
    fn log_missing_repairs(&mut self) -> Result<()> {
        if self.state.late_ranges.is_empty() {
            return Ok(());
        }
        let logged: HashSet<(Timestamp, Timestamp)> = self
            .metadata
            .log(self.env, Some(self.source.name.as_str()), None, 10_000)?
            .into_iter()
            .filter(|r| {
                r.action == metadata::RunAction::Backfill
                    && r.status == metadata::RunStatus::Success
            })
            .filter_map(|r| Some((r.interval_start?, r.interval_end?)))
            .collect();
        for range in &self.state.late_ranges {
            if !logged.contains(&(range.start(), range.end())) {
                self.log_repair(*range)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{BrokerKind, PayloadFormat};
    use crate::time::Duration;

    fn stream() -> Stream {
        Stream {
            broker: BrokerKind::Nats,
            url: "nats://127.0.0.1:4222".into(),
            stream: "EVENTS".into(),
            subjects: vec!["events.>".into()],
            partitions: None,
            event_id: "id".into(),
            event_time: "ts".into(),
            format: PayloadFormat::Json,
            lateness: Duration::from_seconds(0),
        }
    }

    fn message(sequence: u64, partition: &str, payload: &str) -> Message {
        Message {
            partition: partition.into(),
            sequence,
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn subjects_match_like_nats() {
        assert!(subject_matches("events.>", "events.a.b"));
        assert!(!subject_matches("events.>", "events"));
        assert!(subject_matches("events.*", "events.a"));
        assert!(!subject_matches("events.*", "events.a.b"));
        assert!(subject_matches("events.a", "events.a"));
        assert!(!subject_matches("events.a", "other.a"));
    }

    #[test]
    fn a_batch_keeps_the_first_of_each_event_id_and_rejects_what_it_cannot_read() {
        let batch = decode(
            &stream(),
            vec![
                message(
                    3,
                    "events.0",
                    r#"{"id": "a", "ts": "2024-01-01T00:00:05Z"}"#,
                ),
                message(
                    4,
                    "events.1",
                    r#"{"id": "a", "ts": "2024-01-01T00:00:09Z"}"#,
                ),
                message(5, "events.1", r#"{"id": 7, "ts": 1704067230000}"#),
                message(6, "events.1", r#"{"ts": 1704067230000}"#),
                message(7, "events.0", "not json"),
                message(8, "other.0", r#"{"id": "b", "ts": 1}"#),
                message(2, "events.0", r#"{"id": "old", "ts": 1}"#),
            ],
            2,
        );
        let ids: Vec<_> = batch.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["a", "7"]);
        assert_eq!(batch.duplicates, 1);
        assert_eq!(batch.rejects.len(), 2);
        assert!(batch.rejects[0].error.contains("`id`"));
        assert_eq!((batch.first_sequence, batch.last_sequence), (3, 8));
        assert_eq!(
            batch.partitions["events.1"],
            parse_timestamp("2024-01-01T00:00:30Z").unwrap()
        );
        assert_eq!(
            batch.partitions["events.0"],
            parse_timestamp("2024-01-01T00:00:05Z").unwrap()
        );
    }
}
