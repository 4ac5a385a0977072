//! The metadata log: one append-only row per run attempt (SPEC §5).
//!
//! Freshness, lineage, repair and backfill decisions are all queries over this
//! log. A row is inserted as `running` and completed exactly once.

#[cfg(feature = "duckdb")]
pub mod duckdb;
pub mod postgres;

use crate::project::checks::CheckOutcome;
use crate::project::TableName;
use crate::time::{Interval, IntervalSet, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub type RunId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Success,
    Failed,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> RunStatus {
        match text {
            "success" => RunStatus::Success,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Running,
        }
    }
}

/// What a row of the log did: a run of a table (planned by `plan`), an
/// export, or a person's pause or resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunAction {
    Create,
    Increment,
    Rebuild,
    Repair,
    Backfill,
    /// Copy already-written rows to the online stores again (a failed export).
    Export,
    Pause,
    Resume,
}

impl RunAction {
    const ALL: [RunAction; 8] = [
        RunAction::Create,
        RunAction::Increment,
        RunAction::Rebuild,
        RunAction::Repair,
        RunAction::Backfill,
        RunAction::Export,
        RunAction::Pause,
        RunAction::Resume,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RunAction::Create => "create",
            RunAction::Increment => "increment",
            RunAction::Rebuild => "rebuild",
            RunAction::Repair => "repair",
            RunAction::Backfill => "backfill",
            RunAction::Export => "export",
            RunAction::Pause => "pause",
            RunAction::Resume => "resume",
        }
    }

    /// Runs that rewrite data downstream tables may have read.
    pub fn rewrites(self) -> bool {
        matches!(
            self,
            RunAction::Rebuild | RunAction::Backfill | RunAction::Repair
        )
    }
}

impl std::str::FromStr for RunAction {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<RunAction, String> {
        RunAction::ALL
            .into_iter()
            .find(|a| a.name() == text)
            .ok_or_else(|| format!("`{text}` is no action of the log"))
    }
}

impl std::fmt::Display for RunAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// What an upstream looked like when a run read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamRun {
    pub table: String,
    pub run_id: Option<RunId>,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub watermark: Option<Timestamp>,
}

/// A run about to start.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub table: TableName,
    pub env: String,
    pub action: RunAction,
    pub interval: Option<Interval>,
    pub fingerprint: String,
    pub git_commit: Option<String>,
    pub triggered_by: String,
    pub as_of: Timestamp,
    pub sql: String,
    pub upstream_runs: Vec<UpstreamRun>,
    pub read_watermark: Option<Timestamp>,
    /// Why a person did it (`derived pause --reason`).
    pub note: Option<String>,
    /// Per output column, a hash of what defined it (SPEC §10.3).
    pub column_fingerprints: Option<BTreeMap<String, String>>,
    /// A rebuild after a definition change: the columns whose definition
    /// changed (None: every column, or not a rebuild).
    pub changed_columns: Option<BTreeSet<String>>,
}

/// One row of the log, as `derived log` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub run_id: RunId,
    pub table_name: String,
    pub env: String,
    pub action: RunAction,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub interval_start: Option<Timestamp>,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub interval_end: Option<Timestamp>,
    pub status: RunStatus,
    #[serde(with = "crate::time::serde_ts")]
    pub started_at: Timestamp,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub finished_at: Option<Timestamp>,
    pub fingerprint: String,
    pub git_commit: Option<String>,
    pub triggered_by: String,
    #[serde(with = "crate::time::serde_ts")]
    pub as_of: Timestamp,
    pub rows_written: Option<i64>,
    pub error: Option<String>,
    pub sql: Option<String>,
    pub upstream_runs: Vec<UpstreamRun>,
    /// Bytes the warehouse processed for the run, where it reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_processed: Option<i64>,
    /// Slot milliseconds the run used (BigQuery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_ms: Option<i64>,
    /// Why a person did it (`derived pause --reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the run's checks found.
    pub checks: Vec<CheckOutcome>,
}

/// A compact view of one attempt, enough for planning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub run_id: RunId,
    pub action: RunAction,
    pub status: RunStatus,
    pub interval: Option<Interval>,
    pub fingerprint: String,
    pub error: Option<String>,
    #[serde(with = "crate::time::micros::option")]
    pub finished_at: Option<Timestamp>,
    #[serde(with = "crate::time::micros::option")]
    pub read_watermark: Option<Timestamp>,
}

/// What the log says about one table, summarized by the store.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TableLog {
    /// Intervals that succeeded since the table was last built from scratch,
    /// per fingerprint: what the table holds. An interval is complete when it
    /// is covered here and not in `failures`.
    pub coverage: HashMap<String, IntervalSet>,
    pub last_attempt: Option<Attempt>,
    pub last_success: Option<Attempt>,
    /// The latest export of the table's rows to its online stores.
    pub last_export: Option<Attempt>,
    /// Successful runs whose intervals lie near data some upstream rewrote:
    /// what repair decisions compare against.
    pub nearby_runs: Vec<(RunId, Interval)>,
    /// Intervals whose latest attempt failed, since the table was last built
    /// from scratch: they are not complete, and the next run retries them.
    pub failures: Vec<Failure>,
    /// Set while the table is paused (`derived pause`): it and everything
    /// downstream of it are not planned.
    pub paused: Option<Pause>,
    /// The latest pause or resume row of the table.
    pub last_pause_change: Option<RunId>,
    /// The column fingerprints of the definition of the last success.
    pub column_fingerprints: Option<BTreeMap<String, String>>,
}

/// Who paused a table, when and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub by: String,
    #[serde(with = "crate::time::micros")]
    pub at: Timestamp,
    pub reason: Option<String>,
}

/// Part of a failed attempt that no later success covered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub run_id: RunId,
    pub action: RunAction,
    pub fingerprint: String,
    pub error: Option<String>,
    pub interval: Interval,
}

impl TableLog {
    /// The newest finished row of the table, of any action: what a lease holder
    /// compares against to learn whether the table changed after this snapshot.
    /// A run still running counts as unseen: whatever it turns into is news.
    pub fn latest_run_id(&self) -> Option<RunId> {
        let seen = |a: &Attempt| match a.status {
            RunStatus::Running => a.run_id - 1,
            _ => a.run_id,
        };
        let attempt = self.last_attempt.as_ref().map(seen);
        let export = self.last_export.as_ref().map(seen);
        attempt.max(export).max(self.last_pause_change)
    }
}

/// The date ranges one definition (by fingerprint) built.
#[derive(Clone, Debug, Serialize)]
pub struct BuiltBy {
    pub fingerprint: String,
    pub current: bool,
    pub ranges: Vec<[String; 2]>,
}

impl TableLog {
    /// Under `on_change: forward`, which definition built which ranges of the
    /// table, oldest first (SPEC §10.3); empty while one definition built it all.
    pub fn built_by(&self, table: &crate::project::Table) -> Vec<BuiltBy> {
        if table.on_change != crate::project::OnChange::Forward || self.coverage.len() < 2 {
            return Vec::new();
        }
        let mut out: Vec<BuiltBy> = self
            .coverage
            .iter()
            .map(|(fingerprint, coverage)| BuiltBy {
                fingerprint: fingerprint.clone(),
                current: *fingerprint == table.fingerprint,
                ranges: coverage
                    .ranges()
                    .iter()
                    .map(|r| {
                        [
                            crate::time::format_ts(r.start()),
                            crate::time::format_ts(r.end()),
                        ]
                    })
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| a.ranges.first().cmp(&b.ranges.first()));
        out
    }
}

/// A successful run that rewrote data others may have read: a rebuild,
/// backfill or repair (for a source: a `derived backfill` of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rewrite {
    pub table: TableName,
    pub run_id: RunId,
    pub interval: Interval,
    /// The columns it changed; None: every column.
    pub columns: Option<BTreeSet<String>>,
}

/// Everything the planner needs from the log, taken at one moment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LogSnapshot {
    pub tables: HashMap<TableName, TableLog>,
    pub rewrites: Vec<Rewrite>,
}

/// The rows that unresolved failures come from: failed attempts since the
/// table's last rebuild, with every later success overlapping them. Written
/// once for both stores; `$1` is the environment.
pub(crate) const FAILURES_SQL: &str = "WITH generation AS (
        SELECT table_name, max(run_id) AS first_run FROM runs
        WHERE env = $1 AND status = 'success' AND action = 'rebuild' GROUP BY table_name),
     f AS (
        SELECT r.table_name, r.run_id, r.action, r.fingerprint, r.error, r.interval_start AS s, r.interval_end AS e
        FROM runs r LEFT JOIN generation g ON g.table_name = r.table_name
        WHERE r.env = $1 AND r.status = 'failed' AND r.interval_start IS NOT NULL
          AND r.action IN ('create', 'increment', 'rebuild', 'repair', 'backfill')
          AND r.run_id >= coalesce(g.first_run, 0)
          AND NOT EXISTS (SELECT 1 FROM runs ok WHERE ok.env = $1 AND ok.table_name = r.table_name
                AND ok.status = 'success' AND ok.run_id > r.run_id AND ok.action <> 'export'
                AND ok.interval_start <= r.interval_start AND ok.interval_end >= r.interval_end))
     SELECT f.table_name, f.run_id, f.action, f.fingerprint, f.error, f.s, f.e, ok.interval_start, ok.interval_end
     FROM f LEFT JOIN runs ok ON ok.env = $1 AND ok.table_name = f.table_name AND ok.status = 'success'
          AND ok.run_id > f.run_id AND ok.action <> 'export' AND ok.interval_start < f.e AND ok.interval_end > f.s
     ORDER BY f.run_id";

/// One row of [`FAILURES_SQL`]: a failed attempt and one later success overlapping it.
pub(crate) struct FailureRow {
    pub table: String,
    pub failure: Failure,
    pub later_success: Option<Interval>,
}

/// Adds the failures to the snapshot: each failed attempt minus the later
/// successes overlapping it.
pub(crate) fn settle_failures(snapshot: &mut LogSnapshot, rows: Vec<FailureRow>) {
    let mut by_run: Vec<(String, Failure, IntervalSet)> = Vec::new();
    for row in rows {
        if by_run
            .last()
            .is_none_or(|(_, f, _)| f.run_id != row.failure.run_id)
        {
            let mut left = IntervalSet::default();
            left.insert(row.failure.interval);
            by_run.push((row.table, row.failure, left));
        }
        if let (Some(success), Some((_, _, left))) = (row.later_success, by_run.last_mut()) {
            left.remove(success);
        }
    }
    for (table, failure, left) in by_run {
        let log = snapshot
            .tables
            .entry(TableName::from_reference(&table))
            .or_default();
        for &interval in left.ranges() {
            log.failures.push(Failure {
                interval,
                ..failure.clone()
            });
        }
    }
}

/// Actions whose runs rewrite data that downstream tables may have read.
pub const REWRITE_ACTIONS: [RunAction; 3] =
    [RunAction::Rebuild, RunAction::Backfill, RunAction::Repair];

/// How the log closes a run whose process died: failed, with this reason first.
pub const ABANDONED: &str = "abandoned: ";

/// Exclusive, expiring claims on tables, so that many processes share the work
/// and a table never has two writers (SPEC §9). A holder renews its leases by
/// heartbeat; a lease not renewed within its time-to-live is free to take.
pub trait Leases: Send + Sync {
    /// Takes the lease of `table` in `env` unless another holder's lease is live.
    fn acquire(&self, env: &str, table: &TableName) -> Result<bool>;
    fn release(&self, env: &str, table: &TableName) -> Result<()>;
    /// Extends every lease this holder has; how many it still holds.
    fn renew(&self) -> Result<u64>;
    fn ttl(&self) -> std::time::Duration;
    /// How long this holder's leases live between heartbeats.
    fn set_ttl(&self, ttl: std::time::Duration);
    /// Rows of `table` newer than `after`, or still `running`: once the lease
    /// is held, any such row means the snapshot is stale or a holder died.
    fn changed_since(
        &self,
        env: &str,
        table: &TableName,
        after: Option<RunId>,
    ) -> Result<Vec<RunRecord>>;
}

/// Notifications that something worth re-planning for happened elsewhere (a
/// source mark, a released lease). Dropping it stops listening.
pub struct Wakeups {
    pub receiver: std::sync::mpsc::Receiver<String>,
    /// The connection the notifications arrive on; kept open while listening.
    pub listener: Box<dyn Send>,
}

/// A value kept in the log as JSON text (None stays NULL).
pub(crate) fn to_json<T: Serialize>(value: &Option<T>) -> Option<String> {
    value
        .as_ref()
        .map(|v| serde_json::to_string(v).expect("serializable"))
}

/// A JSON value of the log; NULL, or text this version cannot read, is None.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// Logs that a source's data over `range` was rewritten (a backfill, or late
/// events): a finished `backfill` row its readers repair from.
pub fn record_source_rewrite(
    store: &dyn MetadataStore,
    env: &str,
    source: &TableName,
    range: Interval,
    by: &str,
    as_of: Timestamp,
) -> Result<RunId> {
    let marker = NewRun {
        table: source.clone(),
        env: env.to_string(),
        action: RunAction::Backfill,
        interval: Some(range),
        fingerprint: String::new(),
        git_commit: None,
        triggered_by: by.to_string(),
        as_of,
        sql: String::new(),
        upstream_runs: Vec::new(),
        read_watermark: None,
        note: None,
        column_fingerprints: None,
        changed_columns: None,
    };
    let run_id = store.begin_run(&marker)?;
    store.finish_run(run_id, RunStatus::Success, None, None, JobUsage::default())?;
    Ok(run_id)
}

/// Logs that a person paused (`paused`) or resumed a table: a finished row
/// with who, when and why (SPEC §10.2).
pub fn record_pause(
    store: &dyn MetadataStore,
    env: &str,
    table: &TableName,
    paused: bool,
    by: &str,
    reason: Option<&str>,
    as_of: Timestamp,
) -> Result<RunId> {
    let row = NewRun {
        table: table.clone(),
        env: env.to_string(),
        action: if paused {
            RunAction::Pause
        } else {
            RunAction::Resume
        },
        interval: None,
        fingerprint: String::new(),
        git_commit: None,
        triggered_by: by.to_string(),
        as_of,
        sql: String::new(),
        upstream_runs: Vec::new(),
        read_watermark: None,
        note: reason.map(str::to_string),
        column_fingerprints: None,
        changed_columns: None,
    };
    let run_id = store.begin_run(&row)?;
    store.finish_run(run_id, RunStatus::Success, None, None, JobUsage::default())?;
    Ok(run_id)
}

/// Where the log stands, as a token that changes with every write a snapshot
/// could see: equal tokens, equal snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogVersion(pub String);

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata store at {location} has schema version {found}, newer than this derived understands ({known}); upgrade derived")]
    TooNew {
        location: String,
        found: i64,
        known: i64,
    },
    #[error("metadata store: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, MetadataError>;

/// An append-only run log. Implementations: embedded DuckDB; PostgreSQL for many workers.
pub trait MetadataStore: Send + Sync {
    fn begin_run(&self, run: &NewRun) -> Result<RunId>;
    fn finish_run(
        &self,
        run_id: RunId,
        status: RunStatus,
        rows_written: Option<i64>,
        error: Option<&str>,
        usage: JobUsage,
    ) -> Result<()>;
    /// The log summarized for planning. `slack` is the longest input window of any
    /// table: runs that far from a rewritten range are returned as `nearby_runs`.
    fn snapshot(&self, env: &str, slack: crate::time::Duration) -> Result<LogSnapshot>;
    /// Where the log stands now: a snapshot taken at the same version is
    /// still the log's answer.
    fn version(&self) -> Result<LogVersion>;
    /// Runs still `running` in `env`: left behind by a process that died.
    fn running(&self, env: &str) -> Result<Vec<RunRecord>>;
    fn run(&self, run_id: RunId) -> Result<Option<RunRecord>>;
    /// Newest first.
    fn log(
        &self,
        env: &str,
        table: Option<&str>,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<RunRecord>>;
    fn mark_source(
        &self,
        env: &str,
        source: &TableName,
        through: Timestamp,
        marked_at: Timestamp,
        by: &str,
    ) -> Result<()>;
    fn record_checks(
        &self,
        run_id: RunId,
        table: &TableName,
        env: &str,
        outcomes: &[CheckOutcome],
    ) -> Result<()>;
    fn check_results(&self, run_ids: &[RunId]) -> Result<HashMap<RunId, Vec<CheckOutcome>>>;
    /// Every environment in the log with the time of its latest run.
    fn environments(&self) -> Result<Vec<(String, Timestamp)>>;
    /// The latest mark of every source (sources are shared by all environments).
    fn source_marks(&self) -> Result<HashMap<TableName, Timestamp>>;
    /// Leases, where several processes may share the store.
    fn leases(&self) -> Option<&dyn Leases> {
        None
    }
    /// A channel of notifications from other processes, where the store has one.
    fn wakeups(&self) -> Result<Option<Wakeups>> {
        Ok(None)
    }
}
/// What a write cost, where the warehouse reports it (BigQuery).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobUsage {
    pub bytes_processed: Option<u64>,
    pub slot_ms: Option<u64>,
}

impl JobUsage {
    pub fn add(&mut self, other: JobUsage) {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.bytes_processed = sum(self.bytes_processed, other.bytes_processed);
        self.slot_ms = sum(self.slot_ms, other.slot_ms);
    }
}
