//! Typed definitions of sources and tables, parsed once from YAML.

use crate::time::{Duration, Interval, Schedule, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub use crate::name::TableName;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Replace,
    Append,
    Merge,
}

impl Strategy {
    pub const ALL: [&'static str; 3] = ["replace", "append", "merge"];

    pub fn parse(text: &str) -> Option<Strategy> {
        match text {
            "replace" => Some(Strategy::Replace),
            "append" => Some(Strategy::Append),
            "merge" => Some(Strategy::Merge),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Replace => "replace",
            Strategy::Append => "append",
            Strategy::Merge => "merge",
        }
    }
}

/// What a changed definition does to the intervals already built (SPEC §10.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnChange {
    /// Rebuild from `start` with the new definition.
    #[default]
    Rebuild,
    /// Keep what was built; the new definition applies from the next interval.
    Forward,
}

impl OnChange {
    pub const ALL: [&'static str; 2] = ["rebuild", "forward"];

    pub fn parse(text: &str) -> Option<OnChange> {
        match text {
            "rebuild" => Some(OnChange::Rebuild),
            "forward" => Some(OnChange::Forward),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MergeRule {
    Min,
    Max,
    Overwrite,
    Keep,
    Sum,
}

impl MergeRule {
    pub const ALL: [&'static str; 5] = ["min", "max", "overwrite", "keep", "sum"];

    pub fn parse(text: &str) -> Option<MergeRule> {
        match text {
            "min" => Some(MergeRule::Min),
            "max" => Some(MergeRule::Max),
            "overwrite" => Some(MergeRule::Overwrite),
            "keep" => Some(MergeRule::Keep),
            "sum" => Some(MergeRule::Sum),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        MergeRule::ALL[self as usize]
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data_type: Option<String>,
    pub description: Option<String>,
    pub policy: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Freshness {
    /// Complete through `max(time_column) - lag`.
    MaxTime { lag: Duration },
    /// Complete through the latest `derived source mark`.
    Marks,
    /// A snapshot: complete through now.
    Always,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub format: String,
    /// Relative to the project root.
    pub path: String,
}

/// An event stream that `derived ingest` lands into a source's table (SPEC §2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    pub broker: BrokerKind,
    pub url: String,
    /// The broker's stream (JetStream stream name).
    pub stream: String,
    /// Subjects (topics) to consume; each concrete subject is one partition.
    pub subjects: Vec<String>,
    /// How many partitions the watermark waits for before it advances (default:
    /// those seen so far).
    pub partitions: Option<usize>,
    /// Payload field that identifies an event; duplicates are landed once.
    pub event_id: String,
    /// Payload field with the event time (RFC 3339 or epoch milliseconds).
    pub event_time: String,
    pub format: PayloadFormat,
    /// Watermark = min over partitions of max event time, minus this.
    pub lateness: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrokerKind {
    Nats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayloadFormat {
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Source {
    pub name: TableName,
    pub file: PathBuf,
    pub description: Option<String>,
    pub time_column: Option<String>,
    pub location: Option<Location>,
    pub freshness: Freshness,
    pub columns: Vec<Column>,
    /// Set for a source fed by `derived ingest`; its freshness is then `Marks`.
    pub stream: Option<Box<Stream>>,
}

/// Where the SQL text of a table came from, to point errors back at it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SqlOrigin {
    /// A block scalar (`sql: |`) whose first content line starts at byte `first_line`
    /// of the YAML file, each line indented by `indent` spaces.
    Block { first_line: usize, indent: usize },
    /// A one-line scalar starting at byte `offset` of the YAML file.
    Inline { offset: usize },
    /// A `sql_file`, mapped one to one.
    File,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table {
    pub name: TableName,
    pub file: PathBuf,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub schedule: Schedule,
    pub strategy: Strategy,
    /// What a definition change does to built intervals; not in the fingerprint.
    pub on_change: OnChange,
    pub time_column: Option<String>,
    #[serde(with = "crate::time::micros")]
    pub start: Timestamp,
    pub window: Option<Duration>,
    pub batch_size: Option<usize>,
    /// How long one run may take before it is cancelled in the warehouse.
    pub timeout: Option<Duration>,
    pub unique_key: Vec<String>,
    pub merge: BTreeMap<String, MergeRule>,
    /// Upstreams marked `freshness: any`.
    pub any_freshness: BTreeSet<TableName>,
    pub depends_on: Vec<TableName>,
    pub tags: Vec<String>,
    pub readers: Vec<String>,
    pub columns: Vec<Column>,
    /// Table-level and column-level checks, in the order written.
    pub checks: Vec<crate::project::checks::Check>,
    /// Unit tests on fixture rows (SPEC §10.4); not in the fingerprint.
    pub tests: Vec<crate::project::unit_test::UnitTest>,
    /// Online stores the table's rows are copied to after each successful run.
    pub exports: Vec<Export>,
    pub sql: String,
    /// The file that holds `sql` (the YAML itself or the `sql_file`).
    pub sql_path: PathBuf,
    pub sql_origin: SqlOrigin,
    /// Upstream sources and tables, from the SQL and `depends_on`, sorted.
    pub upstreams: Vec<TableName>,
    /// Where the SQL names each upstream it reads: a byte offset into `sql_path`.
    pub reference_offsets: Vec<(TableName, usize)>,
    /// Hash of everything that changes the data (SPEC §4).
    pub fingerprint: String,
    /// Column lineage of the SQL for its first interval, against the columns
    /// its upstreams declare; computed when the load asks for it.
    pub lineage: Option<crate::project::columns::ColumnLineage>,
    /// The SQL could be read (its key present, its file found).
    pub sql_analysable: bool,
}

impl Table {
    /// The input range a run over `batch` reads: it ends at the batch end and
    /// starts one window before the end of the batch's first interval.
    pub fn input_range(&self, batch: Interval) -> Interval {
        let first_end = self.schedule.next(batch.start());
        match self.window {
            Some(w) => Interval::new(first_end - w.chrono(), batch.end()).unwrap_or(batch),
            None => batch,
        }
    }

    /// Whether consecutive intervals may run as one statement with the same result.
    pub fn can_batch(&self) -> bool {
        let window_fits = self.window.is_none_or(|w| w <= self.schedule.period());
        let merge_ordered = self.strategy != Strategy::Merge || self.time_column.is_some();
        window_fits && merge_ordered && self.strategy != Strategy::Replace
    }

    pub fn max_batch(&self) -> usize {
        match (self.can_batch(), self.batch_size) {
            (false, _) => 1,
            (true, Some(n)) => n.max(1),
            (true, None) => DEFAULT_BATCH_SIZE,
        }
    }
}

/// Intervals one create or backfill statement covers by default: a year of hours
/// is about ten statements, small enough to keep a failed batch cheap to retry.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;

/// `export: [{to: redis, key: [user_id], ttl: 7d}]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// A store named under `stores:` in derived.yml.
    pub to: String,
    pub key: Vec<String>,
    pub ttl: Option<Duration>,
    /// Scylla: partition by the key plus a time bucket of this length.
    pub bucket: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Node {
    Source(Source),
    Table(Box<Table>),
}

impl Node {
    pub fn name(&self) -> &TableName {
        match self {
            Node::Source(s) => &s.name,
            Node::Table(t) => &t.name,
        }
    }

    pub fn file(&self) -> &PathBuf {
        match self {
            Node::Source(s) => &s.file,
            Node::Table(t) => &t.file,
        }
    }

    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Node::Table(t) => Some(t),
            Node::Source(_) => None,
        }
    }

    pub fn as_source(&self) -> Option<&Source> {
        match self {
            Node::Source(s) => Some(s),
            Node::Table(_) => None,
        }
    }

    pub fn upstreams(&self) -> &[TableName] {
        match self {
            Node::Source(_) => &[],
            Node::Table(t) => &t.upstreams,
        }
    }

    pub fn columns(&self) -> &[Column] {
        match self {
            Node::Source(s) => &s.columns,
            Node::Table(t) => &t.columns,
        }
    }
}
