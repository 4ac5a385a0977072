//! The planner: a pure function from (definitions, log snapshot, source
//! watermarks, now) to what must run and why. It never touches a database or
//! the clock, so every scheduling rule is a fast unit test.
//!
//! Tables are visited upstream first. Each table's *projected* watermark — what
//! it will be once its planned work succeeds — feeds its downstream, so a daily
//! table over an hourly one is planned in the same run as the hour that
//! completes its day, and no sooner.

use crate::dag::Dag;
use crate::metadata::{Failure, LogSnapshot, RunAction, RunId, RunStatus, TableLog};
use crate::project::{OnChange, Project, Strategy, Table, TableName};
use crate::time::{format_ts, Interval, IntervalSet, Timestamp};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub table: TableName,
    pub kind: RunAction,
    /// What runs, in order: each batch is one statement and one log row.
    pub batches: Vec<Interval>,
    pub reason: String,
    /// The columns behind it (`table.column`): for a rebuild after a
    /// definition change, those that changed; for a repair, the changed
    /// upstream columns the table reads (SPEC §10.3).
    pub columns: Vec<String>,
    /// A rebuild after a definition change whose changed columns are known:
    /// which (logged, so that readers planned later repair only for them).
    pub changed_columns: Option<BTreeSet<String>>,
}

impl Action {
    pub fn intervals(&self, table: &Table) -> usize {
        self.batches
            .iter()
            .map(|b| count_intervals(table, *b))
            .sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocked {
    pub table: TableName,
    pub waiting_for: Vec<TableName>,
}

/// What the planner knows about one node after planning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projection {
    /// Complete through this time now, from the log alone.
    pub watermark: Option<Timestamp>,
    /// Complete through this time once the planned work succeeds.
    pub projected: Option<Timestamp>,
    /// Has data (at least one successful build, or a source with data).
    pub built: bool,
    /// Intervals are due but wait for upstream data.
    pub waiting: bool,
    /// Failed, or blocked by a failed upstream, and not expected to progress.
    pub broken: bool,
    /// The paused tables (itself, or upstream) that hold this one.
    pub held_by: Vec<TableName>,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub now: Option<Timestamp>,
    pub actions: Vec<Action>,
    pub blocked: Vec<Blocked>,
    pub nodes: HashMap<TableName, Projection>,
}

/// One line per action (`kind table [start, end) in N batch(es): reason`),
/// then one per blocked table, then the projected watermark of every node
/// that has one, in name order: stable, for reading and for snapshot tests.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(now) = self.now {
            writeln!(f, "now {}", format_ts(now))?;
        }
        for action in &self.actions {
            let span = match (action.batches.first(), action.batches.last()) {
                (Some(first), Some(last)) => {
                    format!("[{}, {})", format_ts(first.start()), format_ts(last.end()))
                }
                _ => "-".into(),
            };
            writeln!(
                f,
                "{:<9} {} {span} in {} batch(es): {}",
                action.kind,
                action.table,
                action.batches.len(),
                action.reason
            )?;
        }
        for blocked in &self.blocked {
            let waiting: Vec<&str> = blocked.waiting_for.iter().map(TableName::as_str).collect();
            writeln!(
                f,
                "blocked   {} waiting for {}",
                blocked.table,
                waiting.join(", ")
            )?;
        }
        let mut nodes: Vec<_> = self.nodes.iter().collect();
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        for (name, node) in nodes {
            let through = |t: Option<Timestamp>| t.map_or("-".to_string(), format_ts);
            writeln!(
                f,
                "node      {name} through {} -> {}{}{}",
                through(node.watermark),
                through(node.projected),
                if node.waiting { " waiting" } else { "" },
                if node.broken { " broken" } else { "" },
            )?;
        }
        Ok(())
    }
}

pub struct PlanInput<'a> {
    pub project: &'a Project,
    pub dag: &'a Dag,
    pub log: &'a LogSnapshot,
    /// Complete-through times of sources; a missing source has no data yet.
    pub source_watermarks: &'a HashMap<TableName, Timestamp>,
    pub now: Timestamp,
    /// Only these tables may get actions (all when None).
    pub selection: Option<&'a BTreeSet<TableName>>,
    /// Whether failed tables get their retry now; a worker waits a while
    /// between retries. Either way, a failed table is not assumed to succeed:
    /// its downstream waits (SPEC §10.2), so `plan` and `run` agree.
    pub retry_failed: bool,
    /// A backfill or rebuild a person asked for.
    pub request: Option<&'a Request>,
    /// What definition changes touch; None: every change touches everything.
    pub impact: Option<&'a ChangeImpact>,
}

/// Which columns each definition change touched, and which columns each table
/// reads of its upstreams (SPEC §10.3). Worked out from column lineage outside
/// the planner, which only reads it. Whatever is absent counts as "all".
#[derive(Clone, Debug, Default)]
pub struct ChangeImpact {
    /// Per table whose definition changed: the columns whose definition
    /// changed (lower case), or why they are unknown.
    pub changed: HashMap<TableName, Result<BTreeSet<String>, String>>,
    /// `(reader, upstream)` → the upstream's columns the reader reads (lower
    /// case), where its lineage knows them exactly.
    pub reads: HashMap<(TableName, TableName), BTreeSet<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub table: TableName,
    pub kind: RequestKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Backfill(Interval),
    Rebuild,
}

pub fn plan(input: &PlanInput) -> Plan {
    let mut out = Plan {
        now: Some(input.now),
        ..Plan::default()
    };
    out.nodes.reserve(input.dag.order().len());
    let mut rewritten: HashMap<TableName, Rewritten> = HashMap::new();
    let empty = TableLog::default();
    for name in input.dag.order() {
        let Some(node) = input.project.get(name) else {
            continue;
        };
        let projection = match node.as_table() {
            None => {
                let watermark = input.source_watermarks.get(name).copied();
                Projection {
                    watermark,
                    projected: watermark,
                    built: watermark.is_some(),
                    ..Projection::default()
                }
            }
            Some(table) => {
                let log = input.log.tables.get(name).unwrap_or(&empty);
                plan_table(input, table, log, &mut rewritten, &mut out)
            }
        };
        out.nodes.insert(name.clone(), projection);
    }
    out
}

/// The upstream bound: every interval ending at or before it has its inputs complete.
struct Readiness {
    bound: Option<Timestamp>,
    waiting_on_broken: Vec<TableName>,
}

fn readiness(
    input: &PlanInput,
    table: &Table,
    nodes: &HashMap<TableName, Projection>,
    needed_through: Timestamp,
) -> Readiness {
    let mut bound = Some(input.now);
    let mut waiting_on_broken = Vec::new();
    for upstream in &table.upstreams {
        let Some(p) = nodes.get(upstream) else {
            continue;
        };
        let limit = if table.any_freshness.contains(upstream) {
            p.built.then_some(input.now)
        } else {
            p.projected
        };
        if p.broken && limit.is_none_or(|l| l < needed_through) {
            waiting_on_broken.push(upstream.clone());
        }
        bound = match (bound, limit) {
            (Some(b), Some(l)) => Some(b.min(l)),
            _ => None,
        };
    }
    Readiness {
        bound,
        waiting_on_broken,
    }
}

/// Everything decided about one table before its actions are built.
struct TableSituation<'a> {
    table: &'a Table,
    log: &'a TableLog,
    /// End of the last interval whose inputs are complete.
    ready_end: Option<Timestamp>,
    /// Upstream data rewritten (in the log or by this plan) that this table may have read.
    upstream_rewrites: Vec<UpstreamRewrite>,
    requested: Option<&'a RequestKind>,
    fingerprint_changed: bool,
}

/// A range of upstream data rewritten by run `run_id` (None: by this plan).
struct UpstreamRewrite {
    upstream: TableName,
    run_id: Option<RunId>,
    range: Interval,
    /// The changed upstream columns this table reads; empty: the whole rows.
    read: Vec<String>,
}

/// What this plan rewrites of one table: the ranges, and the columns (None:
/// every column).
struct Rewritten {
    ranges: IntervalSet,
    columns: Option<BTreeSet<String>>,
}

fn plan_table(
    input: &PlanInput,
    table: &Table,
    log: &TableLog,
    rewritten: &mut HashMap<TableName, Rewritten>,
    out: &mut Plan,
) -> Projection {
    let selected = input.selection.is_none_or(|s| s.contains(&table.name));
    let failure = failure_of(table, log);
    let due_end = table
        .schedule
        .last_interval(table.start, input.now)
        .map(|i| i.end());
    let ready = readiness(input, table, &out.nodes, due_end.unwrap_or(table.start));
    let ready_end = ready
        .bound
        .and_then(|b| table.schedule.last_interval(table.start, b))
        .map(|i| i.end());
    let situation = TableSituation {
        table,
        log,
        ready_end,
        upstream_rewrites: upstream_rewrites(input, table, rewritten),
        requested: input
            .request
            .filter(|r| r.table == table.name)
            .map(|r| &r.kind),
        fingerprint_changed: log
            .last_success
            .as_ref()
            .is_some_and(|a| a.fingerprint != table.fingerprint),
    };
    let (mut projection, mut actions) = match table.strategy {
        Strategy::Replace => plan_replace(&situation, ready.bound),
        Strategy::Append => plan_append(&situation),
        Strategy::Merge => plan_merge(&situation),
    };
    if situation.fingerprint_changed && table.on_change == OnChange::Forward {
        for action in actions.iter_mut().filter(|a| !a.kind.rewrites()) {
            action.reason = format!(
                "{}; the definition changed and applies forward (on_change: forward), built intervals stay",
                action.reason
            );
        }
    } else if situation.fingerprint_changed {
        for action in actions.iter_mut().filter(|a| a.kind == RunAction::Rebuild) {
            explain_definition_change(input, table, action);
        }
    }
    let held_by = held_by(table, log, &out.nodes);
    if !held_by.is_empty() {
        projection.projected = projection.watermark;
        projection.broken = true;
        projection.held_by = held_by.clone();
        out.blocked.push(Blocked {
            table: table.name.clone(),
            waiting_for: held_by,
        });
        return projection;
    }
    let stalls = failure.is_some();
    projection.waiting = due_end.is_some() && ready_end < due_end;
    if !selected || stalls {
        projection.projected = projection.watermark;
    }
    let blocked = projection.waiting && !ready.waiting_on_broken.is_empty();
    projection.broken = stalls || blocked;
    if blocked {
        out.blocked.push(Blocked {
            table: table.name.clone(),
            waiting_for: ready.waiting_on_broken,
        });
    }
    if !selected || (stalls && !input.retry_failed) {
        return projection;
    }
    let export_failed = log
        .last_export
        .as_ref()
        .filter(|e| e.status == RunStatus::Failed);
    if let (true, Some(failed_export), Some(interval)) = (
        actions.is_empty() && !table.exports.is_empty(),
        export_failed,
        export_failed.and_then(|e| e.interval),
    ) {
        let reason = format!(
            "retry export after failure ({})",
            first_line(failed_export.error.as_deref().unwrap_or(""))
        );
        out.actions
            .push(action(table, RunAction::Export, vec![interval], reason));
    }
    for mut action in actions {
        if action.kind.rewrites() {
            let entry = rewritten
                .entry(table.name.clone())
                .or_insert_with(|| Rewritten {
                    ranges: IntervalSet::default(),
                    columns: action.changed_columns.clone(),
                });
            for batch in &action.batches {
                entry.ranges.insert(*batch);
            }
            entry.columns = match (entry.columns.take(), &action.changed_columns) {
                (Some(mut so_far), Some(changed)) => {
                    so_far.extend(changed.iter().cloned());
                    Some(so_far)
                }
                _ => None,
            };
        }
        if let Some(error) = failure {
            action.reason = format!(
                "retry after failure ({}); {}",
                first_line(error),
                action.reason
            );
        }
        out.actions.push(action);
    }
    projection
}

/// The paused tables that hold `table`: itself when paused, and every paused
/// table upstream of it (SPEC §10.2).
fn held_by(
    table: &Table,
    log: &TableLog,
    nodes: &HashMap<TableName, Projection>,
) -> Vec<TableName> {
    let mut held = Vec::new();
    if log.paused.is_some() {
        held.push(table.name.clone());
    }
    for upstream in &table.upstreams {
        for name in nodes.get(upstream).map_or(&[][..], |p| &p.held_by[..]) {
            if !held.contains(name) {
                held.push(name.clone());
            }
        }
    }
    held
}

/// Why the table is failed, when it is: its last attempt failed, or an
/// interval's latest attempt did. A run abandoned by a dead process says
/// nothing about the table, so it only gets retried.
pub fn failure_of<'l>(table: &Table, log: &'l TableLog) -> Option<&'l str> {
    let not_abandoned = |error: Option<&'l str>| {
        let error = error.unwrap_or("unknown error");
        (!error.starts_with(crate::metadata::ABANDONED)).then_some(error)
    };
    let last = log
        .last_attempt
        .as_ref()
        .filter(|a| a.status == RunStatus::Failed)
        .and_then(|a| not_abandoned(a.error.as_deref()));
    last.or_else(|| {
        log.failures
            .iter()
            .filter(|f| holds(table, &f.fingerprint))
            .find_map(|f| not_abandoned(f.error.as_deref()))
    })
}

/// The failures of the current definition.
fn current_failures<'l>(table: &Table, log: &'l TableLog) -> Vec<&'l Failure> {
    log.failures
        .iter()
        .filter(|f| holds(table, &f.fingerprint))
        .collect()
}

/// Whether rows a run of `fingerprint` wrote still count as the table's:
/// those of its definition, or of any earlier one under `on_change: forward`.
fn holds(table: &Table, fingerprint: &str) -> bool {
    fingerprint == table.fingerprint || table.on_change == OnChange::Forward
}

/// What the table holds under the definitions it keeps (see [`holds`]).
fn held(table: &Table, log: &TableLog) -> IntervalSet {
    let mut out = IntervalSet::default();
    for (fingerprint, coverage) in &log.coverage {
        if holds(table, fingerprint) {
            for range in coverage.ranges() {
                out.insert(*range);
            }
        }
    }
    out
}

/// What the table holds under its definition, minus the intervals whose
/// latest attempt failed: an interval is complete only when it is both.
fn complete(table: &Table, log: &TableLog) -> IntervalSet {
    let mut complete = held(table, log);
    for failure in current_failures(table, log) {
        complete.remove(failure.interval);
    }
    complete
}

fn upstream_rewrites(
    input: &PlanInput,
    table: &Table,
    rewritten: &HashMap<TableName, Rewritten>,
) -> Vec<UpstreamRewrite> {
    let mut out = Vec::new();
    for upstream in &table.upstreams {
        let Some(w) = rewritten.get(upstream) else {
            continue;
        };
        let Some(read) = read_changes(input, table, upstream, w.columns.as_ref()) else {
            continue;
        };
        for range in w.ranges.ranges() {
            out.push(UpstreamRewrite {
                upstream: upstream.clone(),
                run_id: None,
                range: *range,
                read: read.clone(),
            });
        }
    }
    for w in input
        .log
        .rewrites
        .iter()
        .filter(|w| table.upstreams.contains(&w.table))
    {
        let Some(read) = read_changes(input, table, &w.table, w.columns.as_ref()) else {
            continue;
        };
        out.push(UpstreamRewrite {
            upstream: w.table.clone(),
            run_id: Some(w.run_id),
            range: w.interval,
            read,
        });
    }
    out
}

/// Whether a rewrite of `upstream` that changed `changed` (None: every
/// column) touches what `reader` reads: None when it does not; else the
/// changed columns it reads (empty: unknown, so the whole rows).
fn read_changes(
    input: &PlanInput,
    reader: &Table,
    upstream: &TableName,
    changed: Option<&BTreeSet<String>>,
) -> Option<Vec<String>> {
    let reads = input
        .impact
        .and_then(|i| i.reads.get(&(reader.name.clone(), upstream.clone())));
    let (Some(changed), Some(reads)) = (changed, reads) else {
        return Some(Vec::new());
    };
    let read: Vec<String> = changed
        .intersection(reads)
        .map(|c| format!("{upstream}.{c}"))
        .collect();
    (!read.is_empty()).then_some(read)
}

/// Says in a rebuild's reason which columns the definition change touched,
/// and keeps them on the action for the log and the plan's impact.
fn explain_definition_change(input: &PlanInput, table: &Table, action: &mut Action) {
    match input.impact.and_then(|i| i.changed.get(&table.name)) {
        Some(Ok(changed)) => {
            action.columns = changed
                .iter()
                .map(|c| format!("{}.{c}", table.name))
                .collect();
            action.reason = if changed.is_empty() {
                format!(
                    "{}; no column changed, readers keep their data",
                    action.reason
                )
            } else {
                format!("{}; changed: {}", action.reason, action.columns.join(", "))
            };
            action.changed_columns = Some(changed.clone());
        }
        Some(Err(why)) => {
            action.reason = format!("{}; every reader repairs ({why})", action.reason);
        }
        None => {}
    }
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or(text);
    match line.char_indices().nth(120) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

fn action(table: &Table, kind: RunAction, batches: Vec<Interval>, reason: String) -> Action {
    Action {
        table: table.name.clone(),
        kind,
        batches,
        reason,
        columns: Vec::new(),
        changed_columns: None,
    }
}

fn describe(rewrites: &[&UpstreamRewrite]) -> String {
    let mut seen = BTreeSet::new();
    let parts: Vec<String> = rewrites
        .iter()
        .filter(|w| seen.insert((w.upstream.clone(), w.range)))
        .take(3)
        .map(|w| {
            if w.read.is_empty() {
                format!("upstream {} rewrote {}", w.upstream, w.range)
            } else {
                format!(
                    "upstream {} rewrote {}: reads {} (changed)",
                    w.upstream,
                    w.range,
                    w.read.join(", ")
                )
            }
        })
        .collect();
    let more = rewrites.len().saturating_sub(parts.len());
    if more > 0 {
        format!("{} (and {more} more)", parts.join(", "))
    } else {
        parts.join(", ")
    }
}

/// The changed upstream columns behind a repair, for the plan's impact.
fn read_columns(rewrites: &[&UpstreamRewrite]) -> Vec<String> {
    let columns: BTreeSet<&String> = rewrites.iter().flat_map(|w| &w.read).collect();
    columns.into_iter().cloned().collect()
}

fn plan_replace(s: &TableSituation, bound: Option<Timestamp>) -> (Projection, Vec<Action>) {
    let (table, log) = (s.table, s.log);
    let last = log.last_success.as_ref();
    let watermark = last.and_then(|a| a.read_watermark.or(a.interval.map(|i| i.end())));
    let mut projection = Projection {
        watermark,
        projected: watermark,
        built: last.is_some(),
        ..Projection::default()
    };
    let Some(end) = s.ready_end else {
        return (projection, Vec::new());
    };
    let latest = table
        .schedule
        .interval_at(table.schedule.floor(end - chrono::Duration::seconds(1)));
    let last_run = last.map(|a| a.run_id);
    let stale: Vec<&UpstreamRewrite> = s
        .upstream_rewrites
        .iter()
        .filter(|w| w.run_id.is_none_or(|id| last_run.is_some_and(|l| id > l)))
        .collect();
    let behind = last
        .and_then(|a| a.interval)
        .is_none_or(|i| i.end() < latest.end());
    // A backfill or rebuild someone asked for that failed is asked again.
    let failed_request = log.last_attempt.as_ref().filter(|a| {
        a.status == RunStatus::Failed
            && matches!(a.action, RunAction::Backfill | RunAction::Rebuild)
    });
    let (kind, reason) = match (last, s.requested) {
        (None, _) => (
            RunAction::Create,
            format!("new table: snapshot for {latest}"),
        ),
        (Some(_), _) if s.fingerprint_changed => (
            RunAction::Rebuild,
            "fingerprint changed: definition".to_string(),
        ),
        (Some(_), Some(RequestKind::Rebuild)) => {
            (RunAction::Rebuild, "rebuild requested".to_string())
        }
        (Some(_), Some(RequestKind::Backfill(_))) => {
            (RunAction::Backfill, "backfill requested".to_string())
        }
        (Some(_), None) if !stale.is_empty() => (RunAction::Repair, describe(&stale)),
        (Some(_), None) if failed_request.is_some() => {
            let attempt = failed_request.expect("checked");
            let kind = if attempt.action == RunAction::Rebuild {
                RunAction::Rebuild
            } else {
                RunAction::Backfill
            };
            (kind, format!("the {} failed", attempt.action))
        }
        (Some(_), None) if behind => (
            RunAction::Increment,
            format!("new period ready: snapshot for {latest}"),
        ),
        (Some(_), None) => return (projection, Vec::new()),
    };
    projection.projected = bound;
    projection.built = true;
    let mut planned = action(table, kind, vec![latest], reason);
    if kind == RunAction::Repair {
        planned.columns = read_columns(&stale);
    }
    (projection, vec![planned])
}

fn plan_merge(s: &TableSituation) -> (Projection, Vec<Action>) {
    let (table, log) = (s.table, s.log);
    // What the table holds, applied in order; its watermark also waits on failures.
    let held = held(table, log);
    let applied = &held;
    let mut projection = interval_projection(table, log, &complete(table, log));
    let Some(ready_end) = s.ready_end else {
        return (projection, Vec::new());
    };
    let stale: Vec<&UpstreamRewrite> = s
        .upstream_rewrites
        .iter()
        .filter(|w| !stale_intervals(table, log, applied, w, ready_end).is_empty())
        .collect();
    // A failure inside what the table holds (a backfill, repair or rebuild that
    // failed) can only be redone from start: merge never re-applies an interval.
    let failed_rewrite = current_failures(table, log)
        .into_iter()
        .find(|f| applied.ranges().iter().any(|r| r.overlaps(&f.interval)));
    let rebuild_reason = match s.requested {
        _ if log.last_success.is_none() => None,
        _ if s.fingerprint_changed && table.on_change == OnChange::Rebuild => {
            Some("fingerprint changed: definition".to_string())
        }
        Some(RequestKind::Rebuild) => Some("rebuild requested".to_string()),
        Some(RequestKind::Backfill(range)) => Some(format!(
            "backfill of {range} requested; a merge table rebuilds from start"
        )),
        None if failed_rewrite.is_some() => failed_rewrite.map(|f| {
            format!(
                "the {} of {} failed; a merge table rebuilds from start",
                f.action, f.interval
            )
        }),
        None if !stale.is_empty() => Some(format!(
            "{}; a merge table repairs by rebuilding",
            describe(&stale)
        )),
        None => None,
    };
    if let Some(reason) = rebuild_reason {
        let (projection, mut actions) = rebuild_from_start(table, ready_end, reason, projection);
        for a in &mut actions {
            a.columns = read_columns(&stale);
        }
        return (projection, actions);
    }
    // Merge applies intervals in order: only what follows the applied prefix.
    let watermark = applied.covered_through(table.start);
    let Some(missing) = Interval::new(watermark.unwrap_or(table.start), ready_end) else {
        return (projection, Vec::new());
    };
    projection.projected = Some(ready_end);
    projection.built = true;
    (projection, vec![new_intervals(table, log, &[missing])])
}

/// What an append or merge table's log says: complete through the end of its
/// contiguous coverage from `start`.
fn interval_projection(table: &Table, log: &TableLog, coverage: &IntervalSet) -> Projection {
    let watermark = coverage.covered_through(table.start);
    Projection {
        watermark,
        projected: watermark,
        built: log.last_success.is_some(),
        ..Projection::default()
    }
}

/// Every ready interval from `start` again, into a fresh table swapped in at the end.
fn rebuild_from_start(
    table: &Table,
    ready_end: Timestamp,
    reason: String,
    mut projection: Projection,
) -> (Projection, Vec<Action>) {
    let Some(range) = Interval::new(table.start, ready_end) else {
        return (projection, Vec::new());
    };
    projection.projected = Some(ready_end);
    (
        projection,
        vec![action(
            table,
            RunAction::Rebuild,
            batches(table, range),
            reason,
        )],
    )
}

fn plan_append(s: &TableSituation) -> (Projection, Vec<Action>) {
    let (table, log) = (s.table, s.log);
    let coverage = complete(table, log);
    let mut projection = interval_projection(table, log, &coverage);
    let Some(ready_end) = s.ready_end else {
        return (projection, Vec::new());
    };
    let rebuild_reason = match s.requested {
        _ if log.last_success.is_none() => None,
        _ if s.fingerprint_changed && table.on_change == OnChange::Rebuild => {
            Some("fingerprint changed: definition".to_string())
        }
        Some(RequestKind::Rebuild) => Some("rebuild requested".to_string()),
        _ => None,
    };
    if let Some(reason) = rebuild_reason {
        return rebuild_from_start(table, ready_end, reason, projection);
    }
    let mut actions = Vec::new();
    let mut rerun = IntervalSet::default();
    if let Some(RequestKind::Backfill(range)) = s.requested {
        let requested = aligned_within(table, *range, ready_end);
        for r in requested.ranges() {
            rerun.insert(*r);
        }
        let batches: Vec<Interval> = requested
            .ranges()
            .iter()
            .flat_map(|r| batches(table, *r))
            .collect();
        if !batches.is_empty() {
            actions.push(action(
                table,
                RunAction::Backfill,
                batches,
                format!("backfill of {range} requested"),
            ));
        }
    }
    actions.extend(retried_rewrites(table, log, ready_end, &mut rerun));
    let mut repairs = IntervalSet::default();
    let mut causes = Vec::new();
    for w in &s.upstream_rewrites {
        let stale = stale_intervals(table, log, &coverage, w, ready_end);
        if stale.is_empty() {
            continue;
        }
        causes.push(w);
        for i in stale.into_iter().filter(|i| !rerun.contains(i)) {
            repairs.insert(i);
        }
    }
    if !repairs.is_empty() {
        let batches = repairs
            .ranges()
            .iter()
            .flat_map(|r| batches(table, *r))
            .collect();
        let mut repair = action(table, RunAction::Repair, batches, describe(&causes));
        repair.columns = read_columns(&causes);
        actions.push(repair);
    }
    let mut after = coverage.clone();
    for range in rerun.ranges() {
        after.insert(*range);
    }
    let missing = gaps(&after, table.start, ready_end);
    if !missing.is_empty() {
        for range in &missing {
            after.insert(*range);
        }
        actions.push(new_intervals(table, log, &missing));
    }
    if !actions.is_empty() {
        projection.projected = after.covered_through(table.start);
        projection.built = true;
    }
    (projection, actions)
}

/// Intervals a backfill, repair or rebuild failed to rewrite run again, as the
/// same kind of rewrite, so their downstream repairs follow (SPEC §4: every
/// run retries failed intervals).
fn retried_rewrites(
    table: &Table,
    log: &TableLog,
    ready_end: Timestamp,
    rerun: &mut IntervalSet,
) -> Vec<Action> {
    let mut out = Vec::new();
    for kind in [RunAction::Backfill, RunAction::Repair] {
        let failed: Vec<&Failure> = current_failures(table, log)
            .into_iter()
            .filter(|f| f.action.rewrites())
            .filter(|f| (f.action == RunAction::Repair) == (kind == RunAction::Repair))
            .collect();
        let mut intervals = IntervalSet::default();
        for failure in &failed {
            for r in aligned_within(table, failure.interval, ready_end).ranges() {
                if !rerun.contains(r) {
                    intervals.insert(*r);
                }
            }
        }
        if intervals.is_empty() {
            continue;
        }
        for r in intervals.ranges() {
            rerun.insert(*r);
        }
        let batches = intervals
            .ranges()
            .iter()
            .flat_map(|r| batches(table, *r))
            .collect();
        let first = failed[0];
        out.push(action(
            table,
            kind,
            batches,
            format!("the {} of {} failed", first.action, first.interval),
        ));
    }
    out
}

/// A create or increment over ranges that never ran.
fn new_intervals(table: &Table, log: &TableLog, missing: &[Interval]) -> Action {
    let batches: Vec<Interval> = missing
        .iter()
        .flat_map(|range| batches(table, *range))
        .collect();
    let count: usize = batches.iter().map(|b| count_intervals(table, *b)).sum();
    let through = format_ts(missing.last().expect("non-empty").end());
    if log.last_success.is_none() {
        action(
            table,
            RunAction::Create,
            batches,
            format!(
                "new table: {count} interval(s) since {} ready through {through}",
                format_ts(table.start)
            ),
        )
    } else {
        action(
            table,
            RunAction::Increment,
            batches,
            format!("{count} new interval(s) ready through {through}"),
        )
    }
}

/// The table's intervals inside `range` (widened to the grid) that end by `ready_end`.
fn aligned_within(table: &Table, range: Interval, ready_end: Timestamp) -> IntervalSet {
    let mut set = IntervalSet::default();
    let mut s = table.schedule.floor(range.start().max(table.start));
    while s < range.end() {
        let i = table.schedule.interval_at(s);
        if i.end() > ready_end {
            break;
        }
        set.insert(i);
        s = i.end();
    }
    set
}

/// Built intervals of `table` whose input overlaps a rewrite and that have not
/// run since it (every one for a rewrite this plan makes).
fn stale_intervals(
    table: &Table,
    log: &TableLog,
    coverage: &IntervalSet,
    w: &UpstreamRewrite,
    ready_end: Timestamp,
) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut s = table.schedule.floor(w.range.start().max(table.start));
    loop {
        let i = table.schedule.interval_at(s);
        if i.end() > ready_end || table.input_range(i).start() >= w.range.end() {
            return out;
        }
        let ran_since = |run_id: RunId| {
            log.nearby_runs
                .iter()
                .any(|(id, r)| *id > run_id && r.contains(&i))
        };
        if coverage.contains(&i) && w.run_id.is_none_or(|id| !ran_since(id)) {
            out.push(i);
        }
        s = i.end();
    }
}

/// The ranges of `[start, end)` not covered by `coverage`.
fn gaps(coverage: &IntervalSet, start: Timestamp, end: Timestamp) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut at = start;
    for r in coverage.ranges() {
        if r.end() <= at {
            continue;
        }
        if r.start() >= end {
            break;
        }
        if let Some(gap) = Interval::new(at, r.start().min(end)) {
            out.push(gap);
        }
        at = at.max(r.end());
    }
    out.extend(Interval::new(at, end));
    out
}

/// Splits an aligned range into runs of at most `max_batch` consecutive intervals.
pub fn batches(table: &Table, range: Interval) -> Vec<Interval> {
    let size = table.max_batch();
    let mut out = Vec::new();
    let mut s = range.start();
    while s < range.end() {
        let mut e = s;
        for _ in 0..size {
            e = table.schedule.next(e);
            if e >= range.end() {
                break;
            }
        }
        let e = e.min(range.end());
        out.extend(Interval::new(s, e));
        s = e;
    }
    out
}

pub fn count_intervals(table: &Table, range: Interval) -> usize {
    let mut n = 0;
    let mut s = range.start();
    while s < range.end() {
        s = table.schedule.next(s);
        n += 1;
    }
    n
}

#[cfg(test)]
mod fixture {
    //! The definitions every plan test builds on.

    use super::*;
    use crate::project::{Freshness, Node, OnChange, Source, SqlOrigin};
    use crate::time::{parse_timestamp, Schedule};

    pub fn ts(text: &str) -> Timestamp {
        parse_timestamp(text).unwrap()
    }

    pub fn name(text: &str) -> TableName {
        TableName::parse(text).unwrap()
    }

    pub fn source(n: &str) -> Node {
        Node::Source(Source {
            name: name(n),
            file: "s.yml".into(),
            description: None,
            time_column: Some("ts".into()),
            location: None,
            freshness: Freshness::Marks,
            columns: Vec::new(),
            stream: None,
        })
    }

    pub fn table(n: &str, schedule: Schedule, strategy: Strategy, upstreams: &[&str]) -> Table {
        Table {
            name: name(n),
            file: "t.yml".into(),
            description: None,
            owner: None,
            schedule,
            strategy,
            on_change: OnChange::Rebuild,
            time_column: Some("ts".into()),
            start: ts("2024-01-01"),
            window: None,
            batch_size: None,
            timeout: None,
            unique_key: vec!["id".into()],
            merge: Default::default(),
            any_freshness: Default::default(),
            depends_on: Vec::new(),
            tags: Vec::new(),
            readers: Vec::new(),
            columns: Vec::new(),
            checks: Vec::new(),
            tests: Vec::new(),
            exports: Vec::new(),
            sql: "SELECT 1".into(),
            sql_path: "t.yml".into(),
            sql_origin: SqlOrigin::File,
            upstreams: upstreams.iter().map(|u| name(u)).collect(),
            reference_offsets: Vec::new(),
            fingerprint: format!("fp-{n}"),
            lineage: None,
            sql_analysable: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{name, source, table, ts};
    use super::*;
    use crate::metadata::{Attempt, RunStatus};
    use crate::project::{Config, Node};
    use crate::time::Schedule;
    use std::path::Path;

    struct Case {
        project: Project,
        dag: Dag,
        log: LogSnapshot,
        sources: HashMap<TableName, Timestamp>,
        impact: Option<ChangeImpact>,
    }

    impl Case {
        fn new(nodes: Vec<Node>) -> Case {
            let project =
                Project::from_nodes(Path::new("."), Config::default_for(Path::new(".")), nodes);
            let (dag, problems) = Dag::build(&project);
            assert!(problems.is_empty());
            Case {
                project,
                dag,
                log: LogSnapshot::default(),
                sources: HashMap::new(),
                impact: None,
            }
        }

        /// `n`'s definition changed after it was built; `changed` is what
        /// column lineage says of it.
        fn redefined(mut self, n: &str, changed: Result<&[&str], &str>) -> Case {
            let log = self.log.tables.get_mut(&name(n)).expect("built first");
            for a in [&mut log.last_success, &mut log.last_attempt]
                .into_iter()
                .flatten()
            {
                a.fingerprint = "old definition".into();
            }
            let coverage = std::mem::take(&mut log.coverage);
            log.coverage = coverage
                .into_values()
                .map(|c| ("old definition".to_string(), c))
                .collect();
            let changed = changed
                .map(|c| c.iter().map(|c| c.to_string()).collect())
                .map_err(str::to_string);
            self.impact
                .get_or_insert_with(ChangeImpact::default)
                .changed
                .insert(name(n), changed);
            self
        }

        /// `reader` reads exactly these columns of `upstream`.
        fn reads(mut self, reader: &str, upstream: &str, columns: &[&str]) -> Case {
            self.impact
                .get_or_insert_with(ChangeImpact::default)
                .reads
                .insert(
                    (name(reader), name(upstream)),
                    columns.iter().map(|c| c.to_string()).collect(),
                );
            self
        }

        fn source_through(mut self, n: &str, t: &str) -> Case {
            self.sources.insert(name(n), ts(t));
            self
        }

        fn built(mut self, n: &str, from: &str, to: &str, status: RunStatus) -> Case {
            let fingerprint = self.project.table(&name(n)).unwrap().fingerprint.clone();
            let interval = Interval::new(ts(from), ts(to)).unwrap();
            let log = self.log.tables.entry(name(n)).or_default();
            let attempt = Attempt {
                run_id: 1,
                action: RunAction::Create,
                status,
                interval: Some(interval),
                fingerprint: fingerprint.clone(),
                error: (status == RunStatus::Failed).then(|| "boom".into()),
                finished_at: Some(ts(to)),
                read_watermark: Some(ts(to)),
            };
            if status == RunStatus::Success {
                log.coverage
                    .entry(fingerprint)
                    .or_default()
                    .insert(interval);
                log.last_success = Some(attempt.clone());
            } else {
                log.failures.push(Failure {
                    run_id: attempt.run_id,
                    action: attempt.action,
                    fingerprint,
                    error: attempt.error.clone(),
                    interval,
                });
            }
            log.last_attempt = Some(attempt);
            self
        }

        /// A rewrite (`backfill`, `repair`, `rebuild`) of `n` that failed over the range.
        fn failed_rewrite(mut self, n: &str, action: RunAction, from: &str, to: &str) -> Case {
            let fingerprint = self.project.table(&name(n)).unwrap().fingerprint.clone();
            let interval = Interval::new(ts(from), ts(to)).unwrap();
            let log = self.log.tables.entry(name(n)).or_default();
            let attempt = Attempt {
                run_id: 2,
                action,
                status: RunStatus::Failed,
                interval: Some(interval),
                fingerprint: fingerprint.clone(),
                error: Some("check unique(id) failed".into()),
                finished_at: Some(ts(to)),
                read_watermark: None,
            };
            log.failures.push(Failure {
                run_id: 2,
                action,
                fingerprint,
                error: attempt.error.clone(),
                interval,
            });
            log.last_attempt = Some(attempt);
            self
        }

        fn plan(&self, now: &str) -> Plan {
            self.plan_with(now, true, None)
        }

        /// What a worker plans between retries.
        fn plan_holding(&self, now: &str) -> Plan {
            self.plan_with(now, false, None)
        }

        fn plan_with(&self, now: &str, retry_failed: bool, request: Option<&Request>) -> Plan {
            plan(&PlanInput {
                project: &self.project,
                dag: &self.dag,
                log: &self.log,
                source_watermarks: &self.sources,
                now: ts(now),
                selection: None,
                retry_failed,
                request,
                impact: self.impact.as_ref(),
            })
        }
    }

    fn summary(plan: &Plan) -> Vec<(String, &'static str, usize)> {
        plan.actions
            .iter()
            .map(|a| (a.table.to_string(), a.kind.name(), a.batches.len()))
            .collect()
    }

    fn hourly_and_daily() -> Vec<Node> {
        vec![
            source("raw.events"),
            Node::Table(Box::new(table(
                "hourly.h",
                Schedule::Hourly,
                Strategy::Append,
                &["raw.events"],
            ))),
            Node::Table(Box::new(table(
                "daily.d",
                Schedule::Daily,
                Strategy::Append,
                &["hourly.h"],
            ))),
        ]
    }

    #[test]
    fn daily_table_waits_for_all_24_hours() {
        let case =
            Case::new(hourly_and_daily()).source_through("raw.events", "2024-01-01T23:00:00Z");
        let p = case.plan("2024-01-03T00:00:00Z");
        assert_eq!(summary(&p), [("hourly.h".to_string(), "create", 1)]);
        assert_eq!(p.actions[0].batches[0].end(), ts("2024-01-01T23:00:00Z"));
    }

    #[test]
    fn daily_table_runs_in_the_same_plan_as_its_last_hour() {
        let case = Case::new(hourly_and_daily())
            .source_through("raw.events", "2024-01-02T00:30:00Z")
            .built(
                "hourly.h",
                "2024-01-01",
                "2024-01-01T23:00:00Z",
                RunStatus::Success,
            );
        let p = case.plan("2024-01-03T00:00:00Z");
        assert_eq!(
            summary(&p),
            [
                ("hourly.h".to_string(), "increment", 1),
                ("daily.d".to_string(), "create", 1)
            ]
        );
        assert_eq!(
            p.actions[1].batches[0],
            Schedule::Daily.interval_at(ts("2024-01-01"))
        );
    }

    #[test]
    fn nothing_runs_before_its_interval_ends() {
        let case =
            Case::new(hourly_and_daily()).source_through("raw.events", "2024-01-05T00:00:00Z");
        let p = case.plan("2024-01-01T00:59:59Z");
        assert!(p.actions.is_empty());
    }

    #[test]
    fn a_source_without_data_keeps_everything_waiting() {
        let case = Case::new(hourly_and_daily());
        let p = case.plan("2024-01-03T00:00:00Z");
        assert!(p.actions.is_empty());
        assert!(p.nodes[&name("daily.d")].waiting);
    }

    #[test]
    fn a_failed_table_is_retried_and_its_downstream_blocked_in_plan_run_and_status() {
        let case = Case::new(hourly_and_daily())
            .source_through("raw.events", "2024-01-02T00:00:00Z")
            .built(
                "hourly.h",
                "2024-01-01",
                "2024-01-01T12:00:00Z",
                RunStatus::Success,
            )
            .built(
                "hourly.h",
                "2024-01-01T12:00:00Z",
                "2024-01-02",
                RunStatus::Failed,
            );
        let blocked = [Blocked {
            table: name("daily.d"),
            waiting_for: vec![name("hourly.h")],
        }];
        let run = case.plan("2024-01-02T00:00:00Z");
        assert_eq!(summary(&run), [("hourly.h".to_string(), "increment", 1)]);
        assert!(run.actions[0]
            .reason
            .starts_with("retry after failure (boom)"));
        assert_eq!(
            run.blocked, blocked,
            "the downstream waits, never in actions"
        );
        let holding = case.plan_holding("2024-01-02T00:00:00Z");
        assert!(holding.actions.is_empty(), "a worker waits before retrying");
        assert_eq!(holding.blocked, blocked);
    }

    #[test]
    fn a_run_abandoned_by_a_dead_process_is_retried_even_by_a_waiting_worker() {
        let mut case = Case::new(hourly_and_daily())
            .source_through("raw.events", "2024-01-02T00:00:00Z")
            .built("hourly.h", "2024-01-01", "2024-01-02", RunStatus::Failed);
        let abandoned = Some(format!("{}the process stopped", crate::metadata::ABANDONED));
        let log = case.log.tables.get_mut(&name("hourly.h")).unwrap();
        log.last_attempt.as_mut().unwrap().error = abandoned.clone();
        log.failures[0].error = abandoned;
        let worker = case.plan_holding("2024-01-02T00:00:00Z");
        assert_eq!(
            summary(&worker),
            [
                ("hourly.h".to_string(), "create", 1),
                ("daily.d".to_string(), "create", 1)
            ]
        );
        assert!(worker.blocked.is_empty());
    }

    fn two_daily_appends() -> Vec<Node> {
        let mut a = table("core.a", Schedule::Daily, Strategy::Append, &["raw.events"]);
        a.batch_size = Some(1);
        vec![
            source("raw.events"),
            Node::Table(Box::new(a)),
            Node::Table(Box::new(table(
                "core.b",
                Schedule::Daily,
                Strategy::Append,
                &["core.a"],
            ))),
        ]
    }

    #[test]
    fn downstream_builds_up_to_the_first_failed_interval() {
        let case = Case::new(two_daily_appends())
            .source_through("raw.events", "2024-01-11T00:00:00Z")
            .built("core.a", "2024-01-01", "2024-01-06", RunStatus::Success)
            .built("core.a", "2024-01-07", "2024-01-11", RunStatus::Success)
            .built("core.a", "2024-01-06", "2024-01-07", RunStatus::Failed);
        let p = case.plan("2024-01-11T00:00:00Z");
        assert_eq!(
            p.actions
                .iter()
                .map(|a| (a.table.as_str(), a.kind.name(), a.batches.clone()))
                .collect::<Vec<_>>(),
            [
                (
                    "core.a",
                    "increment",
                    vec![Schedule::Daily.interval_at(ts("2024-01-06"))]
                ),
                (
                    "core.b",
                    "create",
                    vec![Interval::new(ts("2024-01-01"), ts("2024-01-06")).unwrap()]
                ),
            ]
        );
        assert_eq!(
            p.blocked,
            [Blocked {
                table: name("core.b"),
                waiting_for: vec![name("core.a")]
            }]
        );
        assert_eq!(p.nodes[&name("core.a")].watermark, Some(ts("2024-01-06")));
    }

    #[test]
    fn a_failed_backfill_is_retried_as_a_backfill_until_it_succeeds() {
        let case = Case::new(two_daily_appends())
            .source_through("raw.events", "2024-01-11T00:00:00Z")
            .built("core.a", "2024-01-01", "2024-01-11", RunStatus::Success)
            .built("core.b", "2024-01-01", "2024-01-11", RunStatus::Success)
            .failed_rewrite("core.a", RunAction::Backfill, "2024-01-03", "2024-01-05");
        let p = case.plan("2024-01-11T00:00:00Z");
        assert_eq!(summary(&p), [("core.a".to_string(), "backfill", 2)]);
        assert!(
            p.actions[0].reason.contains("the backfill of"),
            "{}",
            p.actions[0].reason
        );
        assert_eq!(p.blocked[0].table, name("core.b"));
    }

    #[test]
    fn a_merge_table_whose_backfill_failed_rebuilds_from_start() {
        let mut m = table("core.m", Schedule::Daily, Strategy::Merge, &["raw.events"]);
        m.time_column = Some("ts".into());
        let case = Case::new(vec![source("raw.events"), Node::Table(Box::new(m))])
            .source_through("raw.events", "2024-01-11T00:00:00Z")
            .built("core.m", "2024-01-01", "2024-01-11", RunStatus::Success)
            .failed_rewrite("core.m", RunAction::Rebuild, "2024-01-01", "2024-01-11");
        let p = case.plan("2024-01-11T00:00:00Z");
        assert_eq!(summary(&p)[0].1, "rebuild");
        assert!(p.actions[0].reason.contains("rebuilds from start"));
    }

    #[test]
    fn a_merge_table_retries_a_failed_increment_in_order() {
        let mut m = table("core.m", Schedule::Daily, Strategy::Merge, &["raw.events"]);
        m.time_column = Some("ts".into());
        let case = Case::new(vec![source("raw.events"), Node::Table(Box::new(m))])
            .source_through("raw.events", "2024-01-11T00:00:00Z")
            .built("core.m", "2024-01-01", "2024-01-06", RunStatus::Success)
            .built("core.m", "2024-01-06", "2024-01-07", RunStatus::Failed);
        let p = case.plan("2024-01-11T00:00:00Z");
        assert_eq!(summary(&p), [("core.m".to_string(), "increment", 1)]);
        assert_eq!(p.actions[0].batches[0].start(), ts("2024-01-06"));
    }

    #[test]
    fn replace_runs_only_the_latest_ready_period() {
        let nodes = vec![
            source("raw.events"),
            Node::Table(Box::new(table(
                "mart.m",
                Schedule::Daily,
                Strategy::Replace,
                &["raw.events"],
            ))),
        ];
        let case = Case::new(nodes).source_through("raw.events", "2024-01-05T06:00:00Z");
        let p = case.plan("2024-01-09T00:00:00Z");
        assert_eq!(
            p.actions[0].batches,
            [Schedule::Daily.interval_at(ts("2024-01-04"))]
        );
        let done = Case::new(vec![
            source("raw.events"),
            Node::Table(Box::new(table(
                "mart.m",
                Schedule::Daily,
                Strategy::Replace,
                &["raw.events"],
            ))),
        ])
        .source_through("raw.events", "2024-01-05T06:00:00Z")
        .built("mart.m", "2024-01-04", "2024-01-05", RunStatus::Success);
        assert!(done.plan("2024-01-09T00:00:00Z").actions.is_empty());
    }

    #[test]
    fn merge_applies_only_what_follows_the_applied_prefix() {
        let nodes = vec![
            source("raw.events"),
            Node::Table(Box::new(table(
                "core.m",
                Schedule::Daily,
                Strategy::Merge,
                &["raw.events"],
            ))),
        ];
        let case = Case::new(nodes)
            .source_through("raw.events", "2024-01-10T00:00:00Z")
            .built("core.m", "2024-01-01", "2024-01-05", RunStatus::Success);
        let p = case.plan("2024-01-10T00:00:00Z");
        assert_eq!(
            p.actions[0].batches,
            [Interval::new(ts("2024-01-05"), ts("2024-01-10")).unwrap()]
        );
    }

    #[test]
    fn batches_split_long_ranges() {
        let mut t = table("hourly.h", Schedule::Hourly, Strategy::Append, &[]);
        t.batch_size = Some(10);
        let day = Interval::new(ts("2024-01-01"), ts("2024-01-02")).unwrap();
        let b = batches(&t, day);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].end(), ts("2024-01-01T10:00:00Z"));
        assert_eq!(
            b[2],
            Interval::new(ts("2024-01-01T20:00:00Z"), ts("2024-01-02")).unwrap()
        );
        t.window = Some(crate::time::Duration::parse("2h").unwrap());
        assert_eq!(
            batches(&t, day).len(),
            24,
            "a window longer than the period disables batching"
        );
    }

    #[test]
    fn any_freshness_upstreams_only_need_one_build() {
        let mut daily = table(
            "daily.d",
            Schedule::Daily,
            Strategy::Append,
            &["raw.events", "dim.users"],
        );
        daily.any_freshness.insert(name("dim.users"));
        let nodes = vec![
            source("raw.events"),
            source("dim.users"),
            Node::Table(Box::new(daily)),
        ];
        let case = Case::new(nodes)
            .source_through("raw.events", "2024-01-03T00:00:00Z")
            .source_through("dim.users", "2023-06-01T00:00:00Z");
        assert_eq!(
            summary(&case.plan("2024-01-03T00:00:00Z")),
            [("daily.d".to_string(), "create", 1)]
        );
    }

    /// core.a (append) read by core.b (append) and core.c (replace), all built.
    fn a_with_two_readers() -> Case {
        let mut nodes = two_daily_appends();
        nodes.push(Node::Table(Box::new(table(
            "core.c",
            Schedule::Daily,
            Strategy::Replace,
            &["core.a"],
        ))));
        Case::new(nodes)
            .source_through("raw.events", "2024-01-05T00:00:00Z")
            .built("core.a", "2024-01-01", "2024-01-05", RunStatus::Success)
            .built("core.b", "2024-01-01", "2024-01-05", RunStatus::Success)
            .built("core.c", "2024-01-04", "2024-01-05", RunStatus::Success)
    }

    #[test]
    fn a_definition_change_repairs_only_the_readers_of_changed_columns() {
        // (what changed in core.a, what core.b and core.c read of it) → the plan
        type Reads<'a> = Option<&'a [&'a str]>;
        type Changed<'a> = Result<&'a [&'a str], &'a str>;
        type Expected<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Changed, Reads, Reads, Expected); 6] = [
            // A changed column read by one of two readers repairs only that reader.
            (
                Ok(&["x"]),
                Some(&["x", "day"]),
                Some(&["y"]),
                &[("core.a", "rebuild"), ("core.b", "repair")],
            ),
            // An added column nobody reads repairs nobody.
            (
                Ok(&["new"]),
                Some(&["x"]),
                Some(&["y"]),
                &[("core.a", "rebuild")],
            ),
            // A cosmetic change (no column changed) repairs nobody.
            (
                Ok(&[]),
                Some(&["x"]),
                Some(&["y"]),
                &[("core.a", "rebuild")],
            ),
            // A `*` reader reads the added column too.
            (
                Ok(&["new"]),
                Some(&["x", "y", "new"]),
                Some(&["y"]),
                &[("core.a", "rebuild"), ("core.b", "repair")],
            ),
            // Unknown reads (lineage gaps) fall back to repairing.
            (
                Ok(&["x"]),
                None,
                Some(&["y"]),
                &[("core.a", "rebuild"), ("core.b", "repair")],
            ),
            // Unknown changes (the rows changed) repair every reader.
            (
                Err("the rows changed"),
                Some(&["x"]),
                Some(&["y"]),
                &[
                    ("core.a", "rebuild"),
                    ("core.b", "repair"),
                    ("core.c", "repair"),
                ],
            ),
        ];
        for (changed, b_reads, c_reads, expected) in cases {
            let mut case = a_with_two_readers().redefined("core.a", changed);
            if let Some(columns) = b_reads {
                case = case.reads("core.b", "core.a", columns);
            }
            if let Some(columns) = c_reads {
                case = case.reads("core.c", "core.a", columns);
            }
            let plan = case.plan("2024-01-05T00:00:00Z");
            let mut got: Vec<(&str, &str)> = plan
                .actions
                .iter()
                .map(|a| (a.table.as_str(), a.kind.name()))
                .collect();
            got.sort();
            assert_eq!(
                got, expected,
                "changed {changed:?}, b reads {b_reads:?}, c reads {c_reads:?}\n{plan}"
            );
        }
    }

    #[test]
    fn the_plan_says_which_columns_changed_and_which_caused_a_repair() {
        let plan = a_with_two_readers()
            .redefined("core.a", Ok(&["x"]))
            .reads("core.b", "core.a", &["x", "day"])
            .reads("core.c", "core.a", &["y"])
            .plan("2024-01-05T00:00:00Z");
        assert_eq!(plan.actions[0].columns, ["core.a.x"]);
        assert_eq!(
            plan.actions[0].changed_columns,
            Some(BTreeSet::from(["x".to_string()]))
        );
        assert!(
            plan.actions[0].reason.ends_with("; changed: core.a.x"),
            "{}",
            plan.actions[0].reason
        );
        assert_eq!(plan.actions[1].columns, ["core.a.x"]);
        assert!(
            plan.actions[1].reason.contains("reads core.a.x (changed)"),
            "{}",
            plan.actions[1].reason
        );
    }

    #[test]
    fn a_logged_rebuild_repairs_later_readers_only_for_its_changed_columns() {
        let mut case = a_with_two_readers()
            .reads("core.b", "core.a", &["x"])
            .reads("core.c", "core.a", &["y"]);
        case.log.rewrites.push(crate::metadata::Rewrite {
            table: name("core.a"),
            run_id: 7,
            interval: Interval::new(ts("2024-01-01"), ts("2024-01-05")).unwrap(),
            columns: Some(BTreeSet::from(["y".to_string()])),
        });
        let plan = case.plan("2024-01-05T00:00:00Z");
        assert_eq!(
            summary(&plan),
            [("core.c".to_string(), "repair", 1)],
            "{plan}"
        );
    }

    #[test]
    fn a_forward_change_rebuilds_nothing_and_continues_from_the_watermark() {
        let mut nodes = two_daily_appends();
        if let Node::Table(a) = &mut nodes[1] {
            a.on_change = OnChange::Forward;
        }
        let case = Case::new(nodes)
            .source_through("raw.events", "2024-01-06T00:00:00Z")
            .built("core.a", "2024-01-01", "2024-01-05", RunStatus::Success)
            .built("core.b", "2024-01-01", "2024-01-05", RunStatus::Success)
            .redefined("core.a", Err("its rows changed"));
        let plan = case.plan("2024-01-06T00:00:00Z");
        assert_eq!(
            summary(&plan),
            [
                ("core.a".to_string(), "increment", 1),
                ("core.b".to_string(), "increment", 1)
            ],
            "{plan}"
        );
        assert_eq!(plan.actions[0].batches[0].start(), ts("2024-01-05"));
        assert!(plan.actions[0].reason.contains("applies forward"), "{plan}");
    }

    /// Whole plans, rendered by `Display`, for the scenarios a reviewer reads.
    mod snapshots {
        use super::*;

        #[test]
        fn a_fresh_project_creates_what_its_sources_complete() {
            let case =
                Case::new(hourly_and_daily()).source_through("raw.events", "2024-01-02T00:00:00Z");
            insta::assert_snapshot!(case.plan("2024-01-02T06:00:00Z"));
        }

        #[test]
        fn a_failed_interval_is_retried_and_holds_its_downstream() {
            let case = Case::new(two_daily_appends())
                .source_through("raw.events", "2024-01-11T00:00:00Z")
                .built("core.a", "2024-01-01", "2024-01-06", RunStatus::Success)
                .built("core.a", "2024-01-07", "2024-01-11", RunStatus::Success)
                .built("core.a", "2024-01-06", "2024-01-07", RunStatus::Failed);
            insta::assert_snapshot!(case.plan("2024-01-11T00:00:00Z"));
        }

        #[test]
        fn a_backfill_request_repairs_downstream() {
            let case = Case::new(two_daily_appends())
                .source_through("raw.events", "2024-01-11T00:00:00Z")
                .built("core.a", "2024-01-01", "2024-01-11", RunStatus::Success)
                .built("core.b", "2024-01-01", "2024-01-11", RunStatus::Success);
            let request = Request {
                table: name("core.a"),
                kind: RequestKind::Backfill(
                    Interval::new(ts("2024-01-03"), ts("2024-01-05")).unwrap(),
                ),
            };
            insta::assert_snapshot!(case.plan_with("2024-01-11T00:00:00Z", true, Some(&request)));
        }

        #[test]
        fn an_up_to_date_project_has_nothing_to_run() {
            let case = Case::new(two_daily_appends())
                .source_through("raw.events", "2024-01-11T00:00:00Z")
                .built("core.a", "2024-01-01", "2024-01-11", RunStatus::Success)
                .built("core.b", "2024-01-01", "2024-01-11", RunStatus::Success);
            insta::assert_snapshot!(case.plan("2024-01-11T00:00:00Z"));
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::metadata::Attempt;
    use crate::project::{Config, Node, Strategy};
    use crate::time::{Schedule, Timestamp};
    use chrono::{Duration as Span, TimeZone, Utc};
    use proptest::prelude::*;
    use std::path::Path;

    const SCHEDULES: [Schedule; 4] = [
        Schedule::Hourly,
        Schedule::Daily,
        Schedule::Weekly,
        Schedule::Monthly,
    ];

    fn base() -> Timestamp {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
    }

    fn table(
        name: &str,
        schedule: Schedule,
        strategy: Strategy,
        upstream: &str,
        batch: usize,
        window_hours: Option<i64>,
    ) -> Node {
        let mut t = fixture::table(name, schedule, strategy, &[upstream]);
        t.batch_size = Some(batch);
        t.window = window_hours.map(|h| crate::time::Duration::from_seconds(h * 3600));
        Node::Table(Box::new(t))
    }

    fn source() -> Node {
        fixture::source("raw.events")
    }

    /// Records every planned batch as a success, as executing the plan would.
    fn apply(plan: &Plan, log: &mut LogSnapshot, project: &Project, next_id: &mut i64) {
        for action in &plan.actions {
            let t = project.table(&action.table).unwrap();
            let entry = log.tables.entry(action.table.clone()).or_default();
            for batch in &action.batches {
                *next_id += 1;
                entry
                    .coverage
                    .entry(t.fingerprint.clone())
                    .or_default()
                    .insert(*batch);
                let attempt = Attempt {
                    run_id: *next_id,
                    action: action.kind,
                    status: RunStatus::Success,
                    interval: Some(*batch),
                    fingerprint: t.fingerprint.clone(),
                    error: None,
                    finished_at: None,
                    read_watermark: plan.nodes.get(&action.table).and_then(|p| p.projected),
                };
                entry.last_attempt = Some(attempt.clone());
                entry.last_success = Some(attempt);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn intervals_tile_the_timeline_without_gaps_or_overlaps(s in 0usize..4, hours in 0i64..3000) {
            let schedule = SCHEDULES[s];
            let until = base() + Span::hours(hours);
            let intervals = schedule.intervals(base(), until);
            for pair in intervals.windows(2) {
                prop_assert_eq!(pair[0].end(), pair[1].start());
            }
            prop_assert!(intervals.iter().all(|i| i.start() < i.end() && i.end() <= until));
            let next_start = intervals.last().map_or(base(), |i| i.end());
            prop_assert!(schedule.next(next_start) > until, "the next interval has not ended");
        }

        #[test]
        fn batches_cover_exactly_the_same_intervals(s in 0usize..3, count in 1usize..400, size in 1usize..50) {
            let schedule = SCHEDULES[s];
            let Node::Table(t) = table("core.t", schedule, Strategy::Append, "raw.events", size, None) else { unreachable!() };
            let mut end = base();
            for _ in 0..count {
                end = schedule.next(end);
            }
            let range = Interval::new(base(), end).unwrap();
            let batches = batches(&t, range);
            let flattened: Vec<Interval> = batches.iter().flat_map(|b| schedule.intervals(b.start(), b.end())).collect();
            prop_assert_eq!(flattened, schedule.intervals(base(), end));
            prop_assert!(batches.iter().all(|b| count_intervals(&t, *b) <= size));
        }

        #[test]
        fn interval_sets_agree_with_a_naive_union(ranges in proptest::collection::vec((0i64..200, 1i64..30), 0..20)) {
            let mut set = IntervalSet::default();
            let mut hours = std::collections::BTreeSet::new();
            for (start, len) in &ranges {
                set.insert(Interval::new(base() + Span::hours(*start), base() + Span::hours(start + len)).unwrap());
                hours.extend(*start..start + len);
            }
            for h in 0..240 {
                let hour = Interval::new(base() + Span::hours(h), base() + Span::hours(h + 1)).unwrap();
                prop_assert_eq!(set.contains(&hour), hours.contains(&h));
            }
        }

        #[test]
        fn plans_respect_watermarks_are_deterministic_and_idempotent(
            watermark_hours in 0i64..1500, now_hours in 0i64..1500, built_hours in 0i64..400,
            s in 0usize..4, strategy in 0usize..3, batch in 1usize..40, window in proptest::option::of(1i64..100),
        ) {
            let strategy = [Strategy::Append, Strategy::Merge, Strategy::Replace][strategy];
            let nodes = vec![
                source(),
                table("hourly.h", Schedule::Hourly, Strategy::Append, "raw.events", batch, None),
                table("down.d", SCHEDULES[s], strategy, "hourly.h", batch, window),
            ];
            let project = Project::from_nodes(Path::new("."), Config::default_for(Path::new(".")), nodes);
            let (dag, _) = Dag::build(&project);
            let sources = HashMap::from([(TableName::parse("raw.events").unwrap(), base() + Span::hours(watermark_hours))]);
            let now = base() + Span::hours(now_hours);
            let mut log = LogSnapshot::default();
            let mut next_id = 0;
            if built_hours > 0 {
                let built = Interval::new(base(), base() + Span::hours(built_hours)).unwrap();
                let pre = Plan { actions: vec![Action { table: TableName::parse("hourly.h").unwrap(), kind: RunAction::Create, batches: vec![built], reason: String::new(), columns: Vec::new(), changed_columns: None }], ..Plan::default() };
                apply(&pre, &mut log, &project, &mut next_id);
            }
            let input = |log: &'_ LogSnapshot| -> Plan {
                plan(&PlanInput { project: &project, dag: &dag, log, source_watermarks: &sources, now, selection: None, retry_failed: true, request: None, impact: None })
            };
            let first = input(&log);
            prop_assert_eq!(&first.actions, &input(&log).actions, "planning is deterministic");
            for action in &first.actions {
                let upstream_complete = if action.table.as_str() == "hourly.h" {
                    base() + Span::hours(watermark_hours)
                } else {
                    first.nodes[&TableName::parse("hourly.h").unwrap()].projected.unwrap_or(base())
                };
                for b in &action.batches {
                    prop_assert!(b.end() <= upstream_complete, "{} ran {:?} before its upstream was complete", action.table, b);
                    prop_assert!(b.end() <= now, "nothing runs before it ends");
                }
            }
            apply(&first, &mut log, &project, &mut next_id);
            let second = input(&log);
            prop_assert!(second.actions.is_empty(), "planning the executed plan's log yields no work: {:?}", second.actions);
        }
    }
}
