//! Each table's state (SPEC §4), decided from the log and the plan in one place:
//! `status` prints it, `status --check` and the catalog read it.

use super::{situation, Loaded, Scope, Settings, Stores};
use crate::metadata::{BuiltBy, LogSnapshot, RunId, RunStatus};
use crate::plan::Plan;
use crate::project::checks::{CheckOutcome, Rule};
use crate::project::{Table, TableName};
use crate::time::Timestamp;
use anyhow::Result;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableState {
    /// `derived pause` holds it.
    Paused,
    Running,
    /// Its last attempt failed, or an interval's latest attempt did.
    Failed,
    /// Due intervals wait on a failed, blocked or paused upstream.
    Blocked,
    /// Ready intervals are not built yet.
    Stale,
    /// A `freshness: {max_lag}` check is exceeded.
    Late,
    Fresh,
    NeverRun,
}

impl TableState {
    pub fn name(self) -> &'static str {
        match self {
            TableState::Paused => "paused",
            TableState::Running => "running",
            TableState::Failed => "failed",
            TableState::Blocked => "blocked",
            TableState::Stale => "stale",
            TableState::Late => "late",
            TableState::Fresh => "fresh",
            TableState::NeverRun => "never_run",
        }
    }

    /// What `status --check` exits 1 for.
    pub fn is_unhealthy(self) -> bool {
        matches!(
            self,
            TableState::Failed | TableState::Blocked | TableState::Late
        )
    }
}

impl fmt::Display for TableState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One table's line of `status`.
#[derive(Clone, Debug, Serialize)]
pub struct StatusRow {
    pub name: String,
    pub state: TableState,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub watermark: Option<Timestamp>,
    pub lag_seconds: Option<i64>,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub last_run_at: Option<Timestamp>,
    pub last_status: Option<RunStatus>,
    /// Checks that failed on the last run (warnings, or the cause of a failure).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<String>,
    /// Under `on_change: forward`, which definition built which date ranges,
    /// oldest first; empty while one definition built everything.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub definitions: Vec<BuiltBy>,
}

/// The state of every (selected) table now, sorted by name.
pub fn status(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    selected: Option<&BTreeSet<TableName>>,
) -> Result<Vec<StatusRow>> {
    let now = settings.now();
    let s = situation(settings, loaded, stores, now, Scope::default())?;
    let last_runs: Vec<_> = s
        .snapshot
        .tables
        .values()
        .filter_map(|l| l.last_attempt.as_ref().map(|a| a.run_id))
        .collect();
    let checks = stores.metadata.check_results(&last_runs)?;
    Ok(rows(loaded, &s.snapshot, &s.plan, &checks, now, selected))
}

fn rows(
    loaded: &Loaded,
    log: &LogSnapshot,
    plan: &Plan,
    checks: &HashMap<RunId, Vec<CheckOutcome>>,
    now: Timestamp,
    selected: Option<&BTreeSet<TableName>>,
) -> Vec<StatusRow> {
    let planned: BTreeSet<&TableName> = plan.actions.iter().map(|a| &a.table).collect();
    let blocked: BTreeSet<&TableName> = plan.blocked.iter().map(|b| &b.table).collect();
    let mut rows = Vec::new();
    for table in loaded.project.tables() {
        if selected.is_some_and(|s| !s.contains(&table.name)) {
            continue;
        }
        let table_log = log.tables.get(&table.name);
        let last = table_log.and_then(|l| l.last_attempt.as_ref());
        let watermark = plan.nodes.get(&table.name).and_then(|p| p.watermark);
        let failed = table_log.is_some_and(|l| crate::plan::failure_of(table, l).is_some());
        let state = match last.map(|a| a.status) {
            _ if table_log.is_some_and(|l| l.paused.is_some()) => TableState::Paused,
            Some(RunStatus::Running) => TableState::Running,
            _ if failed => TableState::Failed,
            _ if blocked.contains(&table.name) => TableState::Blocked,
            _ if planned.contains(&table.name) => TableState::Stale,
            _ if is_late(table, watermark, now) => TableState::Late,
            _ if table_log.is_some_and(|l| l.last_success.is_some()) => TableState::Fresh,
            _ => TableState::NeverRun,
        };
        let failed_checks = last
            .and_then(|a| checks.get(&a.run_id))
            .map(|c| {
                c.iter()
                    .filter(|c| !c.passed())
                    .map(|c| format!("{} ({})", c.name, c.severity.name()))
                    .collect()
            })
            .unwrap_or_default();
        rows.push(StatusRow {
            name: table.name.to_string(),
            state,
            watermark,
            lag_seconds: watermark.map(|w| (now - w).num_seconds()),
            last_run_at: last.and_then(|a| a.finished_at),
            last_status: last.map(|a| a.status),
            failed_checks,
            definitions: table_log.map_or_else(Vec::new, |l| l.built_by(table)),
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// A `freshness: {max_lag}` check is exceeded.
fn is_late(table: &Table, watermark: Option<Timestamp>, now: Timestamp) -> bool {
    table.checks.iter().any(|c| match &c.rule {
        Rule::Freshness { max_lag } => {
            watermark.is_none_or(|w| (now - w).num_seconds() > max_lag.seconds())
        }
        _ => false,
    })
}
