//! Warehouses: where derived tables are built. A small surface per backend;
//! every dialect difference (how replace, append and merge are written) lives
//! inside the backend's module.

pub mod bigquery;
pub mod dialect;
#[cfg(feature = "duckdb")]
pub mod duckdb;
pub mod postgres;

use crate::env::{Env, PhysicalName};
use crate::metadata::{JobUsage, RunId};
use crate::project::checks::{CheckOutcome, PreparedCheck};
use crate::project::{Column, MergeRule, Source, Strategy, TableName};
use crate::time::{Interval, Schedule, Timestamp};
pub use dialect::{Dialect, Within};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// An identifier in DuckDB's and PostgreSQL's SQL.
fn quote(ident: &str) -> String {
    Dialect::Ansi.quote(ident)
}

/// A table in DuckDB's and PostgreSQL's SQL.
fn table_sql(name: &PhysicalName) -> String {
    Dialect::Ansi.table(name)
}

/// One strategy write: the rows of `sql` into `target`, atomically.
#[derive(Clone, Copy)]
pub struct WriteRequest<'a> {
    pub run_id: RunId,
    /// The table being written and its environment, for job labels and messages.
    pub table: &'a TableName,
    pub env: &'a str,
    pub target: &'a PhysicalName,
    /// Sets the partition grain where the warehouse partitions by time.
    pub schedule: Schedule,
    pub strategy: Strategy,
    pub sql: &'a str,
    /// The interval (or batch) the rows must fall in, for append.
    pub interval: Interval,
    pub time_column: Option<&'a str>,
    pub unique_key: &'a [String],
    pub merge: &'a BTreeMap<String, MergeRule>,
    pub columns: &'a [Column],
    /// Run on the produced rows before they are published.
    pub checks: &'a [PreparedCheck],
    /// Cancel the write in the warehouse when it runs longer (`timeout:`).
    pub timeout: Option<std::time::Duration>,
}

/// Which table a rebuild replaces, for which run, within how long.
#[derive(Clone, Copy)]
pub struct Rebuild<'a> {
    pub run_id: RunId,
    pub table: &'a TableName,
    pub env: &'a str,
    pub target: &'a PhysicalName,
    /// Cancel the whole rebuild in the warehouse when it runs longer.
    pub timeout: Option<std::time::Duration>,
}

/// The fresh table of a rebuild under way.
pub trait FreshTable {
    /// Writes one batch into the fresh table (whatever the request's
    /// `target`); nothing is published until the rebuild swaps it in.
    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome>;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

impl QueryResult {
    /// One JSON object per row, keyed by column name.
    pub fn into_objects(self) -> Vec<serde_json::Value> {
        let columns = self.columns;
        self.rows
            .into_iter()
            .map(|row| serde_json::Value::Object(columns.iter().cloned().zip(row).collect()))
            .collect()
    }
}

/// The outcomes of a write's checks, or the error that stops the write when a
/// check of severity `error` found rows.
pub fn checks_passed(outcomes: Vec<CheckOutcome>) -> Result<Vec<CheckOutcome>> {
    match outcomes
        .iter()
        .find(|o| !o.passed() && o.severity == crate::project::checks::CheckSeverity::Error)
    {
        Some(failed) => Err(WarehouseError {
            message: crate::project::checks::failure_message(failed),
            checks: outcomes.clone(),
            kind: FailureKind::Data,
        }),
        None => Ok(outcomes),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct WarehouseError {
    pub message: String,
    /// Check results of a write that failed its checks.
    pub checks: Vec<CheckOutcome>,
    pub kind: FailureKind,
}

/// Whether a failed write would fail for every interval alike, or because of
/// the data of some interval: what decides if a failed batch is split to find
/// the failing intervals (SPEC §10.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailureKind {
    /// The statement is wrong (syntax, an unknown table or column, a type
    /// mismatch in the query): every interval fails alike.
    Statement,
    /// Some interval's rows: a failed check or cast, a row outside the interval.
    Data,
    /// The run took longer than its `timeout:` and was cancelled.
    Timeout,
    /// The warehouse did not say.
    #[default]
    Unknown,
}

/// Runs `work`; if it is still running after `timeout`, calls `cancel` once
/// (which makes the warehouse abandon the statement and roll back) and turns
/// the error into a `timeout:` error (SPEC §10.2).
pub fn within<T>(
    timeout: Option<std::time::Duration>,
    cancel: impl FnOnce() + Send,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some(limit) = timeout else {
        return work();
    };
    let fired = std::sync::atomic::AtomicBool::new(false);
    let (finished, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let fired_in_watchdog = &fired;
        scope.spawn(move || {
            if wait.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                fired_in_watchdog.store(true, std::sync::atomic::Ordering::SeqCst);
                cancel();
            }
        });
        let result = work();
        drop(finished);
        match result {
            Err(e) if fired.load(std::sync::atomic::Ordering::SeqCst) => Err(WarehouseError {
                message: format!(
                    "timeout: the run took longer than its timeout of {} and was cancelled; the table keeps its previous data ({})",
                    crate::time::Duration::from_seconds(limit.as_secs() as i64),
                    e.message
                ),
                checks: e.checks,
                kind: FailureKind::Timeout,
            }),
            other => other,
        }
    })
}

impl WarehouseError {
    pub fn new(message: impl Into<String>) -> WarehouseError {
        WarehouseError {
            message: message.into(),
            checks: Vec::new(),
            kind: FailureKind::Unknown,
        }
    }

    /// The rows of some interval are at fault.
    pub fn data(message: impl Into<String>) -> WarehouseError {
        WarehouseError {
            kind: FailureKind::Data,
            ..WarehouseError::new(message)
        }
    }

    /// The statement is at fault, whatever the interval.
    pub fn statement(message: impl Into<String>) -> WarehouseError {
        WarehouseError {
            kind: FailureKind::Statement,
            ..WarehouseError::new(message)
        }
    }
}

/// What a write did: rows written and the checks it ran on them.
#[derive(Clone, Debug, Default)]
pub struct WriteOutcome {
    pub rows: u64,
    pub checks: Vec<CheckOutcome>,
    pub usage: JobUsage,
    /// Columns the write added to the table because its rows have them and
    /// the table did not (the rows written before hold NULL there).
    pub added_columns: Vec<String>,
}

/// The produced columns an existing table lacks (by name, in any case): what a
/// write adds as nullable columns before it publishes, so that a new column
/// upstream (read through `*`) never wedges an append or merge table.
pub fn columns_to_add<'c>(
    produced: &'c [(String, String)],
    existing: &[(String, String)],
) -> Vec<&'c (String, String)> {
    produced
        .iter()
        .filter(|(name, _)| !existing.iter().any(|(e, _)| e.eq_ignore_ascii_case(name)))
        .collect()
}

pub type Result<T> = std::result::Result<T, WarehouseError>;

pub trait Warehouse: Send + Sync {
    /// The backend itself, for what only one backend does (`ingest::landing`).
    fn as_any(&self) -> &dyn std::any::Any;
    /// How this warehouse spells its SQL.
    fn dialect(&self) -> Dialect;
    /// Makes every source with a `location` readable under its name; file globs are
    /// re-read by every query, so new files are seen.
    fn prepare_sources(&self, sources: &[&Source], root: &Path) -> Result<()>;
    /// `max(time_column)` of a source, or None when it has no rows.
    fn max_time(&self, source: &Source) -> Result<Option<Timestamp>>;
    /// Up to `jobs` writes run at once from now on. An embedded engine gives
    /// each its share of the machine's cores: tables built side by side, each
    /// on fewer threads, cost less than each built on every core in turn.
    fn run_concurrently(&self, jobs: usize) -> Result<()> {
        let _ = jobs;
        Ok(())
    }
    /// Creates these schemas when missing; called once before concurrent writes,
    /// which would otherwise conflict creating the same schema.
    fn create_schemas(&self, schemas: &[String]) -> Result<()>;
    /// Runs one strategy write atomically, its checks before publishing.
    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome>;
    /// Builds a table from scratch out of readers' sight: `build` writes the
    /// batches into a fresh table, then the fresh table replaces the target in
    /// one atomic step with the rebuild's commit record. Readers see the old
    /// table until then, and a failure (of `build` or of the swap) leaves it
    /// untouched. Returns the rows of the new table.
    fn rebuild(
        &self,
        rebuild: &Rebuild,
        build: &mut dyn FnMut(&dyn FreshTable) -> Result<()>,
    ) -> Result<u64>;
    /// Runs checks against existing rows (`derived check`).
    fn check(&self, rows: &PhysicalName, checks: &[PreparedCheck]) -> Result<Vec<CheckOutcome>>;
    /// Which of these runs committed their write (for runs whose process died).
    fn committed(&self, run_ids: &[RunId]) -> Result<BTreeMap<RunId, u64>>;
    fn query(&self, sql: &str) -> Result<QueryResult>;
    /// A query that cannot write, whatever it says (unit tests). A backend
    /// whose connection may write enforces it.
    fn query_read_only(&self, sql: &str) -> Result<QueryResult> {
        self.query(sql)
    }
    /// Drops every table of a non-production environment.
    fn drop_env(&self, env: &Env) -> Result<usize>;
    fn table_exists(&self, name: &PhysicalName) -> Result<bool>;
    /// A table's columns and their types, in order.
    fn columns(&self, name: &PhysicalName) -> Result<Vec<(String, String)>>;
    /// The rows of a table, all of them or those within an interval.
    fn rows_in(&self, name: &PhysicalName, within: Option<Within>) -> Result<QueryResult> {
        self.query(&format!(
            "SELECT * FROM {}",
            self.dialect().rows_in(name, within)
        ))
    }
    /// Checks a query without running it; the bytes it would scan where the
    /// warehouse knows (`validate --dry-run`).
    fn dry_run(&self, sql: &str, table: &TableName) -> Result<Option<u64>> {
        let _ = (sql, table);
        Err(WarehouseError::new(
            "dry runs need a warehouse that supports them (bigquery)",
        ))
    }
}
