//! The metadata log: one append-only row per run attempt (SPEC §5).
//!
//! Freshness, lineage, repair and backfill decisions are all queries over this
//! log. A row is inserted as `running` and completed exactly once.

#[cfg(feature = "duckdb")]
pub mod duckdb;
pub mod postgres;

use crate::checks::CheckOutcome;
use crate::project::TableName;
use crate::time::{Interval, IntervalSet, Timestamp};
use crate::warehouse::JobUsage;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
    pub action: String,
    pub interval: Option<Interval>,
    pub fingerprint: String,
    pub git_commit: Option<String>,
    pub triggered_by: String,
    pub as_of: Timestamp,
    pub sql: String,
    pub upstream_runs: Vec<UpstreamRun>,
    pub read_watermark: Option<Timestamp>,
}

/// One row of the log, as `derived log` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub run_id: RunId,
    pub table_name: String,
    pub env: String,
    pub action: String,
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
    /// What the run's checks found.
    pub checks: Vec<CheckOutcome>,
}

/// A compact view of one attempt, enough for planning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub run_id: RunId,
    pub action: String,
    pub status: RunStatus,
    pub interval: Option<Interval>,
    pub fingerprint: String,
    pub error: Option<String>,
    pub finished_at: Option<Timestamp>,
    pub read_watermark: Option<Timestamp>,
}

/// What the log says about one table, summarized by the store.
#[derive(Clone, Debug, Default)]
pub struct TableLog {
    /// Intervals that succeeded since the table was last built from scratch, per fingerprint.
    pub coverage: HashMap<String, IntervalSet>,
    pub last_attempt: Option<Attempt>,
    pub last_success: Option<Attempt>,
    /// The latest export of the table's rows to its online stores.
    pub last_export: Option<Attempt>,
    /// Successful runs whose intervals lie near data some upstream rewrote:
    /// what repair decisions compare against.
    pub nearby_runs: Vec<(RunId, Interval)>,
}

/// A successful run that rewrote data others may have read: a rebuild,
/// backfill or repair (for a source: a `derived backfill` of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    pub table: TableName,
    pub run_id: RunId,
    pub interval: Interval,
}

/// Everything the planner needs from the log, taken at one moment.
#[derive(Clone, Debug, Default)]
pub struct LogSnapshot {
    pub tables: HashMap<TableName, TableLog>,
    pub rewrites: Vec<Rewrite>,
}

/// Actions whose runs rewrite data that downstream tables may have read.
pub const REWRITE_ACTIONS: [&str; 3] = ["rebuild", "backfill", "repair"];

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
}
