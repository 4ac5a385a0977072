//! Runs a plan against a warehouse, appending every attempt to the log.
//!
//! Actions run concurrently in DAG order. A failed action blocks only its
//! downstream actions; everything else proceeds. Each batch is one log row,
//! inserted as `running` before the write and completed after it.

use crate::dag::Dag;
use crate::env::{Env, PhysicalName};
use crate::metadata::{
    JobUsage, Leases, MetadataStore, NewRun, RunAction, RunId, RunRecord, RunStatus, UpstreamRun,
    ABANDONED,
};
use crate::plan::{Action, Blocked, Plan};
use crate::project::checks::{
    self, failure_message, CheckOutcome, CheckQuery, CheckSeverity, PreparedCheck, Rule, ROWS,
};
use crate::project::template::RenderContext;
use crate::project::{Freshness, Node, Project, Strategy, Table, TableName};
use crate::time::{Interval, IntervalSet, Timestamp};
use crate::warehouse::{
    self, FailureKind, FreshTable, Rebuild, Warehouse, WarehouseError, Within, WriteOutcome,
    WriteRequest,
};
use serde::Serialize;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Who and what a run is for; the same for every action of one command.
pub struct RunContext<'a> {
    pub project: &'a Project,
    pub dag: &'a Dag,
    pub warehouse: &'a dyn Warehouse,
    pub metadata: &'a dyn MetadataStore,
    pub env: &'a Env,
    pub as_of: Timestamp,
    pub triggered_by: &'a str,
    pub git_commit: Option<&'a str>,
    pub threads: usize,
    pub progress: &'a dyn Progress,
    /// Outside `prod`: the tables read from this environment (None: all of them);
    /// every other name is read from production.
    pub env_tables: Option<&'a BTreeSet<TableName>>,
    /// Set on shutdown: start nothing new, finish what runs.
    pub stop: Option<&'a AtomicBool>,
}

/// Reports progress; the CLI shows a bar on a terminal and plain lines elsewhere.
pub trait Progress: Sync {
    fn started(&self, _table: &TableName, _batch: Interval, _batches: usize) {}
    fn finished(&self, _run: &RunOutcome) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    pub run_id: RunId,
    pub table: String,
    pub action: RunAction,
    #[serde(with = "crate::time::serde_ts")]
    pub interval_start: Timestamp,
    #[serde(with = "crate::time::serde_ts")]
    pub interval_end: Timestamp,
    pub status: RunStatus,
    pub rows_written: Option<u64>,
    pub error: Option<String>,
    /// Failed `warn` checks: the run succeeded, but someone should look.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub seconds: f64,
    /// Why a failed run failed: the statement, or some interval's data.
    #[serde(skip)]
    pub failure: Option<FailureKind>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    pub succeeded: usize,
    pub failed: usize,
    pub runs: Vec<RunOutcome>,
    pub blocked: Vec<Blocked>,
    /// Set when nothing could run at all (e.g. the warehouse refused the schemas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_error: Option<String>,
    /// Planned tables left for later: another worker holds them, the log moved
    /// on since the plan, an upstream was left for later, or shutdown began.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Deferred>,
    /// Time spent taking, checking and releasing leases (several workers only).
    #[serde(skip_serializing_if = "is_zero")]
    pub lease_seconds: f64,
}

fn is_zero(seconds: &f64) -> bool {
    *seconds == 0.0
}

#[derive(Clone, Debug, Serialize)]
pub struct Deferred {
    pub table: TableName,
    pub reason: String,
}

/// Closes runs that a dead process left `running`: committed writes become
/// successes, the rest failures, so their intervals run again. Where the store
/// has leases, other processes' runs may be live: a dead holder's runs are
/// closed by whoever next takes the table's lease instead.
pub fn recover_abandoned<'w>(
    metadata: &dyn MetadataStore,
    warehouse: impl FnOnce() -> anyhow::Result<&'w dyn Warehouse>,
    env: &str,
) -> anyhow::Result<usize> {
    if metadata.leases().is_some() {
        return Ok(0);
    }
    let running = metadata.running(env)?;
    if !running.is_empty() {
        close_abandoned(metadata, warehouse()?, &running)?;
    }
    Ok(running.len())
}

fn close_abandoned(
    metadata: &dyn MetadataStore,
    warehouse: &dyn Warehouse,
    running: &[RunRecord],
) -> anyhow::Result<()> {
    if running.is_empty() {
        return Ok(());
    }
    let ids: Vec<RunId> = running.iter().map(|r| r.run_id).collect();
    let committed = warehouse.committed(&ids)?;
    for run in running {
        match committed.get(&run.run_id) {
            Some(&rows) => metadata.finish_run(
                run.run_id,
                RunStatus::Success,
                Some(rows as i64),
                None,
                JobUsage::default(),
            )?,
            None => metadata.finish_run(
                run.run_id,
                RunStatus::Failed,
                None,
                Some(&format!("{ABANDONED}the process running it stopped before it finished; its interval runs again")),
                JobUsage::default(),
            )?,
        }
    }
    Ok(())
}

/// Whether this process may run a table now.
enum Claim<'a> {
    /// The store has no leases: this process is the only writer.
    Sole,
    /// This process holds the table's lease and the log is as planned.
    Leased(&'a dyn Leases),
    Deferred(String),
}

/// Takes the table's lease, then checks that nobody ran the table since the
/// snapshot the plan came from; runs a dead holder left `running` are closed
/// and the table is left for the next plan, which sees them.
fn claim<'a>(ctx: &RunContext<'a>, table: &TableName, seen: Option<RunId>) -> Claim<'a> {
    let Some(leases) = ctx.metadata.leases() else {
        return Claim::Sole;
    };
    match leases.acquire(ctx.env.name(), table) {
        Ok(true) => {}
        Ok(false) => return Claim::Deferred("another worker holds its lease".into()),
        Err(e) => return Claim::Deferred(e.to_string()),
    }
    let reason = match leases.changed_since(ctx.env.name(), table, seen) {
        Ok(rows) if rows.is_empty() => return Claim::Leased(leases),
        Ok(rows) => {
            let dead: Vec<RunRecord> = rows
                .into_iter()
                .filter(|r| r.status == RunStatus::Running)
                .collect();
            match close_abandoned(ctx.metadata, ctx.warehouse, &dead) {
                Ok(()) if dead.is_empty() => "it ran since this plan was made".to_string(),
                Ok(()) => format!("closed {} run(s) of a stopped worker", dead.len()),
                Err(e) => e.to_string(),
            }
        }
        Err(e) => e.to_string(),
    };
    release(leases, ctx.env.name(), table);
    Claim::Deferred(reason)
}

fn release(leases: &dyn Leases, env: &str, table: &TableName) {
    if let Err(e) = leases.release(env, table) {
        tracing::warn!("could not release the lease of {table}: {e}");
    }
}

fn stopping(ctx: &RunContext) -> bool {
    ctx.stop.is_some_and(|s| s.load(Ordering::Relaxed))
}

/// How complete every source is now: from its data, its marks or the clock.
pub fn source_watermarks(
    project: &Project,
    warehouse: Option<&dyn Warehouse>,
    marks: &HashMap<TableName, Timestamp>,
    now: Timestamp,
) -> anyhow::Result<HashMap<TableName, Timestamp>> {
    let mut out = HashMap::new();
    for source in project.sources() {
        let watermark = match &source.freshness {
            Freshness::Always => Some(now),
            Freshness::Marks => marks.get(&source.name).copied(),
            Freshness::MaxTime { lag } => {
                let warehouse = warehouse.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} is complete through its latest time, which only the warehouse knows",
                        source.name
                    )
                })?;
                warehouse.max_time(source)?.map(|t| t - lag.chrono())
            }
        };
        if let Some(w) = watermark {
            out.insert(source.name.clone(), w.min(now));
        }
    }
    Ok(out)
}

/// Shared knowledge that changes as runs finish.
struct State {
    /// Latest successful run of each table.
    last_run: HashMap<TableName, RunId>,
    watermarks: HashMap<TableName, Timestamp>,
    /// Successful intervals of append/merge tables under their current definition.
    coverage: HashMap<TableName, IntervalSet>,
}

struct Scheduler {
    queue: VecDeque<usize>,
    waiting_on: Vec<usize>,
    done: usize,
    failed: BTreeSet<TableName>,
    report: RunReport,
}

/// The planned actions of one table, run one after the other.
struct Job<'p> {
    table: TableName,
    actions: Vec<&'p Action>,
}

fn jobs(plan: &Plan) -> Vec<Job<'_>> {
    let mut jobs: Vec<Job> = Vec::new();
    let mut index: HashMap<&TableName, usize> = HashMap::new();
    for action in &plan.actions {
        match index.get(&action.table) {
            Some(&i) => jobs[i].actions.push(action),
            None => {
                index.insert(&action.table, jobs.len());
                jobs.push(Job {
                    table: action.table.clone(),
                    actions: vec![action],
                });
            }
        }
    }
    jobs
}

pub fn execute(ctx: &RunContext, plan: &Plan, initial: &crate::metadata::LogSnapshot) -> RunReport {
    let actions = jobs(plan);
    let index: HashMap<&TableName, usize> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.table, i))
        .collect();
    let mut downstream: Vec<Vec<usize>> = vec![Vec::new(); actions.len()];
    let mut waiting_on = vec![0; actions.len()];
    for (i, job) in actions.iter().enumerate() {
        for upstream in planned_upstreams(ctx, &job.table, &index) {
            downstream[upstream].push(i);
            waiting_on[i] += 1;
        }
    }
    let mut schemas: Vec<String> = actions
        .iter()
        .map(|j| PhysicalName::of(&j.table, ctx.env).schema)
        .collect();
    schemas.sort();
    schemas.dedup();
    if let Err(e) = ctx.warehouse.create_schemas(&schemas) {
        return RunReport {
            failed: actions.len(),
            runs: Vec::new(),
            blocked: Vec::new(),
            succeeded: 0,
            setup_error: Some(e.to_string()),
            deferred: Vec::new(),
            lease_seconds: 0.0,
        };
    }
    let state = Mutex::new(initial_state(ctx, plan, initial));
    let queue = (0..actions.len()).filter(|&i| waiting_on[i] == 0).collect();
    let scheduler = Mutex::new(Scheduler {
        queue,
        waiting_on,
        done: 0,
        failed: BTreeSet::new(),
        report: RunReport::default(),
    });
    let wake = Condvar::new();
    let threads = ctx.threads.clamp(1, actions.len().max(1));
    if let Err(e) = ctx.warehouse.run_concurrently(threads) {
        tracing::debug!("the warehouse keeps its own threads: {e}");
    }
    let seen: Vec<Option<RunId>> = actions
        .iter()
        .map(|j| initial.tables.get(&j.table).and_then(|l| l.latest_run_id()))
        .collect();
    let jobs = Jobs {
        actions: &actions,
        downstream: &downstream,
        seen: &seen,
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| worker(ctx, &jobs, &scheduler, &wake, &state));
        }
        if let Some(leases) = ctx.metadata.leases() {
            scope.spawn(|| heartbeat(leases, actions.len(), &scheduler, &wake));
        }
    });
    let mut report = scheduler
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .report;
    report.blocked.extend(plan.blocked.iter().cloned());
    report.runs.sort_by_key(|r| r.run_id);
    report.succeeded = report
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Success)
        .count();
    report.failed = report
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count();
    report
}

/// Planned actions this one must wait for: its nearest planned ancestors.
fn planned_upstreams(
    ctx: &RunContext,
    table: &TableName,
    index: &HashMap<&TableName, usize>,
) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<TableName> = ctx.dag.upstream_of(table);
    while let Some(u) = stack.pop() {
        if !seen.insert(u.clone()) {
            continue;
        }
        match index.get(&u) {
            Some(&i) => {
                found.insert(i);
            }
            None => stack.extend(ctx.dag.upstream_of(&u)),
        }
    }
    found
}

fn initial_state(ctx: &RunContext, plan: &Plan, log: &crate::metadata::LogSnapshot) -> State {
    let mut state = State {
        last_run: HashMap::new(),
        watermarks: HashMap::new(),
        coverage: HashMap::new(),
    };
    for (name, projection) in &plan.nodes {
        if let Some(w) = projection.watermark {
            state.watermarks.insert(name.clone(), w);
        }
    }
    for (name, table_log) in &log.tables {
        if let Some(success) = &table_log.last_success {
            state.last_run.insert(name.clone(), success.run_id);
        }
        if let Some(table) = ctx.project.table(name) {
            if let Some(coverage) = table_log.coverage.get(&table.fingerprint) {
                state.coverage.insert(name.clone(), coverage.clone());
            }
        }
    }
    state
}

/// The jobs of one execution and what each must wait for.
struct Jobs<'j, 'p> {
    actions: &'j [Job<'p>],
    downstream: &'j [Vec<usize>],
    /// The newest run of each job's table in the snapshot the plan came from.
    seen: &'j [Option<RunId>],
}

/// Renews this process's leases a few times per time-to-live until every job
/// is done. Renewals keep their own schedule: the job wake-ups that end the
/// wait early must not postpone them.
fn heartbeat(leases: &dyn Leases, jobs: usize, scheduler: &Mutex<Scheduler>, wake: &Condvar) {
    let every = (leases.ttl() / 3).max(Duration::from_millis(10));
    let mut due = Instant::now() + every;
    let mut s = scheduler.lock().unwrap_or_else(|e| e.into_inner());
    while s.done < jobs {
        let now = Instant::now();
        if now < due {
            s = wake
                .wait_timeout(s, due - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            continue;
        }
        drop(s);
        if let Err(e) = leases.renew() {
            tracing::warn!("lease heartbeat failed: {e}");
        }
        due = Instant::now() + every;
        s = scheduler.lock().unwrap_or_else(|e| e.into_inner());
    }
}

fn worker(
    ctx: &RunContext,
    jobs: &Jobs,
    scheduler: &Mutex<Scheduler>,
    wake: &Condvar,
    state: &Mutex<State>,
) {
    let (actions, downstream) = (jobs.actions, jobs.downstream);
    loop {
        let next = {
            let mut s = scheduler.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(i) = s.queue.pop_front() {
                    break Some(i);
                }
                if s.done == actions.len() {
                    break None;
                }
                s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(i) = next else {
            wake.notify_all();
            return;
        };
        let table = &actions[i].table;
        let claiming = Instant::now();
        let claim = if stopping(ctx) {
            Claim::Deferred("shutting down".into())
        } else {
            claim(ctx, table, jobs.seen[i])
        };
        let mut lease_seconds = match claim {
            Claim::Sole => 0.0,
            _ => claiming.elapsed().as_secs_f64(),
        };
        if let Claim::Deferred(reason) = claim {
            let mut s = scheduler.lock().unwrap_or_else(|e| e.into_inner());
            s.report.lease_seconds += lease_seconds;
            s.done += 1;
            s.report.deferred.push(Deferred {
                table: table.clone(),
                reason,
            });
            let later = downstream[i].clone();
            skip_all(jobs, &mut s, later, Skip::Deferred(table));
            drop(s);
            wake.notify_all();
            continue;
        }
        let outcomes = run_job(ctx, &actions[i], state);
        if let Claim::Leased(leases) = claim {
            let releasing = Instant::now();
            release(leases, ctx.env.name(), table);
            lease_seconds += releasing.elapsed().as_secs_f64();
        }
        let ok = outcomes
            .iter()
            .all(|o| o.status == RunStatus::Success || o.action == RunAction::Export);
        let mut s = scheduler.lock().unwrap_or_else(|e| e.into_inner());
        s.report.runs.extend(outcomes);
        s.report.lease_seconds += lease_seconds;
        s.done += 1;
        if !ok {
            s.failed.insert(table.clone());
        }
        let mut skip = Vec::new();
        for &d in &downstream[i] {
            if s.waiting_on[d] == SKIPPED {
                continue;
            }
            if ok {
                s.waiting_on[d] -= 1;
                if s.waiting_on[d] == 0 {
                    s.queue.push_back(d);
                }
            } else {
                skip.push(d);
            }
        }
        skip_all(jobs, &mut s, skip, Skip::Blocked(table));
        drop(s);
        wake.notify_all();
    }
}

/// Why downstream actions do not run in this execution.
#[derive(Clone, Copy)]
enum Skip<'t> {
    /// An upstream failed.
    Blocked(&'t TableName),
    /// An upstream was left for later.
    Deferred(&'t TableName),
}

/// `waiting_on` of an action that will not run in this execution.
const SKIPPED: usize = usize::MAX;

/// Marks actions (and their downstream) skipped, exactly once each.
fn skip_all(jobs: &Jobs, s: &mut Scheduler, mut stack: Vec<usize>, why: Skip) {
    while let Some(d) = stack.pop() {
        if s.waiting_on[d] == SKIPPED {
            continue;
        }
        s.waiting_on[d] = SKIPPED;
        s.done += 1;
        let table = jobs.actions[d].table.clone();
        match why {
            Skip::Blocked(cause) => s.report.blocked.push(Blocked {
                table,
                waiting_for: vec![cause.clone()],
            }),
            Skip::Deferred(cause) => s.report.deferred.push(Deferred {
                table,
                reason: format!("waits for {cause}, left for later"),
            }),
        }
        stack.extend(jobs.downstream[d].iter().copied());
    }
}

/// Runs a table's actions in order, stopping at the first failure.
fn run_job(ctx: &RunContext, job: &Job, state: &Mutex<State>) -> Vec<RunOutcome> {
    let table = ctx.project.table(&job.table).expect("planned tables exist");
    let mut outcomes = Vec::new();
    for action in &job.actions {
        let full_export = table.strategy != Strategy::Append || action.kind == RunAction::Rebuild;
        if action.kind == RunAction::Export {
            for &batch in &action.batches {
                outcomes.extend(run_exports(ctx, table, batch, full_export));
            }
            continue;
        }
        // A rebuild of an append or merge table is one unit into a fresh
        // table, which isolates its failing intervals itself.
        let into_fresh = action.kind == RunAction::Rebuild && table.strategy != Strategy::Replace;
        let units: Vec<Vec<Interval>> = if into_fresh {
            vec![action.batches.clone()]
        } else {
            action.batches.iter().map(|b| vec![*b]).collect()
        };
        let column_fingerprints = ctx.project.column_fingerprints(table);
        for batches in units {
            if stopping(ctx) {
                return outcomes;
            }
            let unit = Unit {
                ctx,
                table,
                action,
                column_fingerprints: column_fingerprints.as_ref(),
                state,
                full_export,
                batches: action.batches.len(),
                fails_alike: Cell::new(false),
            };
            let ok = match batches.as_slice() {
                [batch] if !into_fresh => unit.run_isolating(*batch, &mut outcomes),
                _ => unit.run(&batches, false, &mut outcomes),
            };
            // A failed interval of an append table leaves the later ones to
            // run, unless every interval fails alike; anything else stops the
            // table's actions here.
            if !ok && (table.strategy != Strategy::Append || unit.fails_alike.get()) {
                return outcomes;
            }
        }
    }
    outcomes
}

/// One action's batches of one table, run and logged.
struct Unit<'u, 'c> {
    ctx: &'u RunContext<'c>,
    table: &'u Table,
    action: &'u Action,
    /// What defines each column of the table, for the log (SPEC §10.3).
    column_fingerprints: Option<&'u BTreeMap<String, String>>,
    state: &'u Mutex<State>,
    full_export: bool,
    /// How many batches the action has, for progress.
    batches: usize,
    /// Set when a failure turned out to be the statement's, not the data's.
    fails_alike: Cell<bool>,
}

impl Unit<'_, '_> {
    /// Runs the batches as one log row (and exports on success).
    fn run(&self, batches: &[Interval], splittable: bool, out: &mut Vec<RunOutcome>) -> bool {
        self.ctx
            .progress
            .started(&self.table.name, span(batches), self.batches);
        let (outcome, isolated) = run_unit(self, batches, splittable);
        self.ctx.progress.finished(&outcome);
        let ok = outcome.status == RunStatus::Success && isolated.is_empty();
        out.push(outcome);
        out.extend(isolated);
        if ok {
            out.extend(run_exports(
                self.ctx,
                self.table,
                span(batches),
                self.full_export,
            ));
        }
        ok
    }

    fn can_split(&self, batch: Interval) -> bool {
        self.table.strategy != Strategy::Replace
            && self.table.schedule.next(batch.start()) < batch.end()
    }

    /// Runs a batch; when it fails on data, splits it in two until the failing
    /// intervals are known: every clean interval lands, only failing ones are
    /// logged failed (SPEC §10.2). A merge table stops at its first failing
    /// interval, as it applies intervals in order. Whether every interval
    /// succeeded.
    fn run_isolating(&self, batch: Interval, out: &mut Vec<RunOutcome>) -> bool {
        let splittable = self.can_split(batch);
        if self.run(&[batch], splittable, out) {
            return true;
        }
        let parent = out.last().cloned().expect("just pushed");
        if matches!(
            parent.failure,
            Some(FailureKind::Statement | FailureKind::Timeout)
        ) {
            self.fails_alike.set(true);
            return false;
        }
        splittable && self.isolate(batch, &parent, out)
    }

    /// Both halves of a failed batch, each isolated in turn where it fails.
    fn isolate(&self, batch: Interval, parent: &RunOutcome, out: &mut Vec<RunOutcome>) -> bool {
        let halves = halves(self.table, batch);
        let mut failed = Vec::new();
        for half in halves {
            let splittable = self.can_split(half);
            if !self.run(&[half], splittable, out) {
                failed.push((half, out.last().cloned().expect("just pushed")));
                if self.table.strategy == Strategy::Merge {
                    break;
                }
            }
        }
        // Both halves failed exactly as the whole did, and the warehouse cannot
        // tell why: the statement fails every interval alike, so stop here.
        let alike = failed.len() == 2
            && parent.failure == Some(FailureKind::Unknown)
            && failed.iter().all(|(_, o)| same_failure(o, parent));
        let statement = failed
            .iter()
            .any(|(_, o)| o.failure == Some(FailureKind::Statement));
        if alike || statement {
            self.fails_alike.set(true);
            return false;
        }
        for (half, outcome) in &failed {
            if self.can_split(*half) {
                self.isolate(*half, outcome, out);
            }
        }
        failed.is_empty()
    }
}

/// The intervals of a batch split into two runs of consecutive intervals.
fn halves(table: &Table, batch: Interval) -> Vec<Interval> {
    let count = crate::plan::count_intervals(table, batch);
    let mut middle = batch.start();
    for _ in 0..count / 2 {
        middle = table.schedule.next(middle);
    }
    [
        Interval::new(batch.start(), middle),
        Interval::new(middle, batch.end()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Two failures say the same thing (ignoring the note on splitting).
fn same_failure(a: &RunOutcome, b: &RunOutcome) -> bool {
    let message = |o: &RunOutcome| -> String {
        let error = o.error.as_deref().unwrap_or_default();
        error
            .split("; split in two")
            .next()
            .unwrap_or(error)
            .to_string()
    };
    message(a) == message(b)
}

/// Copies the rows a successful run wrote to each online store of the table,
/// one log row per store. Shadow and other non-production environments never export.
fn run_exports(ctx: &RunContext, table: &Table, interval: Interval, full: bool) -> Vec<RunOutcome> {
    if !ctx.env.is_prod() {
        return Vec::new();
    }
    let mut outcomes = Vec::new();
    for export in &table.exports {
        let started = Instant::now();
        let new_run = NewRun {
            table: table.name.clone(),
            env: ctx.env.to_string(),
            action: RunAction::Export,
            interval: Some(interval),
            fingerprint: table.fingerprint.clone(),
            git_commit: ctx.git_commit.map(str::to_string),
            triggered_by: ctx.triggered_by.to_string(),
            as_of: ctx.as_of,
            sql: format!(
                "export to {} by {}{}",
                export.to,
                export.key.join(", "),
                if full { " (full sync)" } else { "" }
            ),
            upstream_runs: Vec::new(),
            read_watermark: None,
            note: None,
            column_fingerprints: None,
            changed_columns: None,
        };
        let mut outcome = RunOutcome {
            run_id: 0,
            table: table.name.to_string(),
            action: RunAction::Export,
            interval_start: interval.start(),
            interval_end: interval.end(),
            status: RunStatus::Failed,
            rows_written: None,
            error: None,
            warnings: Vec::new(),
            seconds: 0.0,
            failure: None,
        };
        match ctx.metadata.begin_run(&new_run) {
            Ok(id) => outcome.run_id = id,
            Err(e) => {
                outcome.error = Some(e.to_string());
                outcomes.push(outcome);
                continue;
            }
        }
        match export_rows(ctx, table, export, interval, full) {
            Ok(rows) => {
                outcome.status = RunStatus::Success;
                outcome.rows_written = Some(rows);
            }
            Err(message) => outcome.error = Some(message),
        }
        let _ = ctx.metadata.finish_run(
            outcome.run_id,
            outcome.status,
            outcome.rows_written.map(|r| r as i64),
            outcome.error.as_deref(),
            JobUsage::default(),
        );
        outcome.seconds = started.elapsed().as_secs_f64();
        ctx.progress.finished(&outcome);
        outcomes.push(outcome);
    }
    outcomes
}

fn export_rows(
    ctx: &RunContext,
    table: &Table,
    export: &crate::project::Export,
    interval: Interval,
    full: bool,
) -> Result<u64, String> {
    let store = ctx
        .project
        .config
        .stores
        .get(&export.to)
        .ok_or_else(|| format!("no store named `{}` in derived.yml", export.to))?;
    let target = PhysicalName::of(&table.name, ctx.env);
    let within = match (&table.time_column, full) {
        (Some(time_column), false) => Some(Within {
            time_column,
            interval,
        }),
        _ => None,
    };
    let rows = ctx
        .warehouse
        .rows_in(&target, within)
        .map_err(|e| e.to_string())?;
    let types: Vec<String> = ctx
        .warehouse
        .columns(&target)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(_, data_type)| data_type)
        .collect();
    let sync = if full {
        crate::export::Sync::Full
    } else {
        crate::export::Sync::Upsert
    };
    let mut store = crate::export::connect(&export.to, store).map_err(|e| e.to_string())?;
    store
        .write(
            table,
            export,
            &crate::export::Rows {
                result: &rows,
                types: &types,
            },
            sync,
        )
        .map_err(|e| e.to_string())
}

fn span(batches: &[Interval]) -> Interval {
    batches[0].span(&batches[batches.len() - 1])
}

/// One log row: a single batch, or every batch of a rebuild into a fresh table
/// (with the rows of the intervals a rebuild isolated as failed).
/// `splittable`: a failure on data will be isolated by splitting the batch,
/// and the log says so.
fn run_unit(unit: &Unit, batches: &[Interval], splittable: bool) -> (RunOutcome, Vec<RunOutcome>) {
    let (ctx, table, action, state) = (unit.ctx, unit.table, unit.action, unit.state);
    let started = Instant::now();
    let whole = span(batches);
    let target = PhysicalName::of(&table.name, ctx.env);
    let (upstream_runs, read_watermark, first_build) = {
        let s = state.lock().unwrap_or_else(|e| e.into_inner());
        let upstream_runs: Vec<UpstreamRun> = table
            .upstreams
            .iter()
            .map(|u| UpstreamRun {
                table: u.to_string(),
                run_id: s.last_run.get(u).copied(),
                watermark: s.watermarks.get(u).copied(),
            })
            .collect();
        let read = upstream_runs.iter().filter_map(|u| u.watermark).min();
        (upstream_runs, read, !s.last_run.contains_key(&table.name))
    };
    let is_first_build = first_build || action.kind == RunAction::Rebuild;
    let rendered: Result<Vec<Rendered>, String> = batches
        .iter()
        .map(|&batch| render(ctx, table, &target, batch, is_first_build))
        .collect();
    let new_run = NewRun {
        table: table.name.clone(),
        env: ctx.env.to_string(),
        action: action.kind,
        interval: Some(whole),
        fingerprint: table.fingerprint.clone(),
        git_commit: ctx.git_commit.map(str::to_string),
        triggered_by: ctx.triggered_by.to_string(),
        as_of: ctx.as_of,
        sql: rendered.as_ref().map_or_else(
            |_| table.sql.clone(),
            |r| {
                r.iter()
                    .map(|(sql, _)| sql.as_str())
                    .collect::<Vec<_>>()
                    .join(";\n")
            },
        ),
        upstream_runs,
        read_watermark: read_watermark.or(Some(ctx.as_of)),
        note: None,
        column_fingerprints: unit.column_fingerprints.cloned(),
        changed_columns: action.changed_columns.clone(),
    };
    let mut outcome = RunOutcome {
        run_id: 0,
        table: table.name.to_string(),
        action: action.kind,
        interval_start: whole.start(),
        interval_end: whole.end(),
        status: RunStatus::Failed,
        rows_written: None,
        error: None,
        warnings: Vec::new(),
        seconds: 0.0,
        failure: None,
    };
    let run_id = match ctx.metadata.begin_run(&new_run) {
        Ok(id) => id,
        Err(e) => {
            outcome.error = Some(e.to_string());
            return (outcome, Vec::new());
        }
    };
    let mut isolated = Vec::new();
    outcome.run_id = run_id;
    let result = rendered
        .map_err(|e| (e, Vec::new(), FailureKind::Statement))
        .and_then(|prepared| {
            let requests: Vec<WriteRequest> = prepared
                .iter()
                .zip(batches)
                .map(|((sql, checks), &batch)| {
                    request(ctx, table, run_id, &target, sql, checks, batch)
                })
                .collect();
            let written =
                if action.kind == RunAction::Rebuild && table.strategy != Strategy::Replace {
                    let rebuild = Rebuild {
                        run_id,
                        table: &table.name,
                        env: ctx.env.name(),
                        target: &target,
                        timeout: timeout_of(table),
                    };
                    let mut isolation = FreshIsolation {
                        ctx,
                        table,
                        target: &target,
                        new_run: &new_run,
                        whole,
                        checks: Vec::new(),
                        usage: JobUsage::default(),
                        failed: Vec::new(),
                        landed: false,
                    };
                    let rebuilt = ctx
                        .warehouse
                        .rebuild(&rebuild, &mut |fresh| isolation.build(fresh, &requests));
                    isolated = std::mem::take(&mut isolation.failed);
                    rebuilt.map(|rows| WriteOutcome {
                        rows,
                        checks: isolation.checks,
                        usage: isolation.usage,
                        added_columns: Vec::new(),
                    })
                } else {
                    ctx.warehouse.write(&requests[0])
                };
            written.map_err(|e| (e.message, e.checks, e.kind))
        });
    let checks = match &result {
        Ok(written) => written.checks.clone(),
        Err((_, checks, _)) => checks.clone(),
    };
    let usage = result.as_ref().map_or(JobUsage::default(), |w| w.usage);
    if let Err(e) = ctx
        .metadata
        .record_checks(run_id, &table.name, ctx.env.name(), &checks)
    {
        outcome
            .warnings
            .push(format!("check results were not logged: {e}"));
    }
    outcome.warnings.extend(
        checks
            .iter()
            .filter(|c| !c.passed() && c.severity == CheckSeverity::Warn)
            .map(failure_message),
    );
    if let Some(written) = result.as_ref().ok().filter(|w| !w.added_columns.is_empty()) {
        outcome.warnings.push(format!(
            "added column(s) {} to {}: the query now produces them (rows written before hold NULL)",
            written.added_columns.join(", "),
            table.name
        ));
    }
    match result {
        Ok(written) => {
            let rows = written.rows;
            outcome.status = RunStatus::Success;
            outcome.rows_written = Some(rows);
            record_success(
                table,
                whole,
                action.kind,
                run_id,
                new_run.read_watermark,
                state,
            );
        }
        Err((message, _, kind)) => {
            let note = match (kind, splittable) {
                (_, false) | (FailureKind::Timeout, _) => "",
                (FailureKind::Statement, true) => {
                    "; the statement fails every interval alike, so the batch is not split"
                }
                (_, true) => "; split in two to find the failing intervals",
            };
            outcome.error = Some(format!("{message}{note}"));
            outcome.failure = Some(kind);
        }
    }
    let finish = ctx.metadata.finish_run(
        run_id,
        outcome.status,
        outcome.rows_written.map(|r| r as i64),
        outcome.error.as_deref(),
        usage,
    );
    if let Err(e) = finish {
        outcome.status = RunStatus::Failed;
        outcome.error = Some(format!(
            "the write committed but the log could not record it: {e}"
        ));
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    (outcome, isolated)
}

/// The SQL with the upstream tables that live in `ctx.env` renamed to their
/// physical names there (production SQL is left as written).
fn in_environment(ctx: &RunContext, table: &Table, sql: &str) -> String {
    if ctx.env.is_prod() {
        return sql.to_string();
    }
    let dialect = ctx.warehouse.dialect();
    let renames: Vec<(String, String)> = table
        .upstreams
        .iter()
        .filter(|u| {
            ctx.project.table(u).is_some() && ctx.env_tables.is_none_or(|set| set.contains(*u))
        })
        .map(|u| (u.to_string(), dialect.table(&PhysicalName::of(u, ctx.env))))
        .collect();
    rename_tables(sql, &renames)
}

/// Replaces whole-name occurrences of `dataset.table` (case-insensitive).
pub fn rename_tables(sql: &str, renames: &[(String, String)]) -> String {
    let lower = sql.to_ascii_lowercase();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    let renames: Vec<(String, &String)> = renames
        .iter()
        .map(|(from, to)| (from.to_ascii_lowercase(), to))
        .collect();
    'scan: while at < sql.len() {
        for (from, to) in &renames {
            let end = at + from.len();
            let before_ok = at == 0
                || !(is_ident(lower.as_bytes()[at - 1])
                    || matches!(lower.as_bytes()[at - 1], b'.' | b'"' | b'`'));
            let after_ok = end >= lower.len() || !is_ident(lower.as_bytes()[end]);
            if before_ok && lower[at..].starts_with(from.as_str()) && after_ok {
                out.push_str(to);
                at = end;
                continue 'scan;
            }
        }
        let next = sql[at..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&sql[at..at + next]);
        at += next;
    }
    out
}

/// The checks of one batch, ready to run on its rows.
pub fn prepare_checks(
    project: &Project,
    table: &Table,
    env: &Env,
    render: &RenderContext,
) -> Result<Vec<PreparedCheck>, String> {
    let related = |name: &TableName| match project.get(name) {
        Some(Node::Source(_)) => PhysicalName::prod(name),
        _ => PhysicalName::of(name, env),
    };
    let mut prepared = Vec::new();
    for (check, name) in table.checks.iter().zip(checks::names(&table.checks)) {
        let query = match &check.rule {
            Rule::Freshness { .. } => continue,
            Rule::Sql(sql) => {
                let with_rows = RenderContext {
                    rows: Some(ROWS),
                    ..*render
                };
                let rendered = project
                    .renderer
                    .render(sql, &with_rows)
                    .map_err(|e| format!("check {name}: {}", e.message))?;
                CheckQuery::Sql(rendered)
            }
            Rule::Relationship { table, .. } => CheckQuery::Rule {
                rule: check.rule.clone(),
                related: Some(related(table)),
            },
            rule => CheckQuery::Rule {
                rule: rule.clone(),
                related: None,
            },
        };
        prepared.push(PreparedCheck {
            name,
            severity: check.severity,
            query,
        });
    }
    Ok(prepared)
}

/// A batch's SQL and checks, rendered for one environment.
type Rendered = (String, Vec<PreparedCheck>);

fn render(
    ctx: &RunContext,
    table: &Table,
    target: &PhysicalName,
    batch: Interval,
    is_first_build: bool,
) -> Result<Rendered, String> {
    let this = ctx.warehouse.dialect().table(target);
    let render = RenderContext {
        input: table.input_range(batch),
        interval: batch,
        this: &this,
        env: ctx.env.name(),
        is_first_build,
        rows: None,
    };
    let sql = ctx
        .project
        .renderer
        .render(&table.sql, &render)
        .map_err(|e| e.message)?;
    let sql = in_environment(ctx, table, &sql);
    Ok((sql, prepare_checks(ctx.project, table, ctx.env, &render)?))
}

fn timeout_of(table: &Table) -> Option<Duration> {
    table
        .timeout
        .map(|t| Duration::from_secs(t.seconds().unsigned_abs()))
}

#[allow(clippy::too_many_arguments)]
fn request<'a>(
    ctx: &'a RunContext,
    table: &'a Table,
    run_id: RunId,
    target: &'a PhysicalName,
    sql: &'a str,
    checks: &'a [PreparedCheck],
    batch: Interval,
) -> WriteRequest<'a> {
    WriteRequest {
        run_id,
        table: &table.name,
        env: ctx.env.name(),
        target,
        schedule: table.schedule,
        strategy: table.strategy,
        sql,
        interval: batch,
        time_column: table.time_column.as_deref(),
        unique_key: &table.unique_key,
        merge: &table.merge,
        columns: &table.columns,
        checks,
        timeout: timeout_of(table),
    }
}

/// Builds a rebuild's fresh table batch by batch, splitting a batch that fails
/// on its data until the failing intervals are known, as a plain write does.
/// Each failing interval is logged `failed` at once, before the rebuild is
/// swapped in, so a rebuild that dies in between never claims it. A merge
/// table stops at its first failing interval, and the intervals after it are
/// logged as not applied. A failure of the statement fails the rebuild.
struct FreshIsolation<'a, 'c> {
    ctx: &'a RunContext<'c>,
    table: &'a Table,
    target: &'a PhysicalName,
    new_run: &'a NewRun,
    whole: Interval,
    checks: Vec<CheckOutcome>,
    usage: JobUsage,
    /// The intervals logged failed, as run outcomes.
    failed: Vec<RunOutcome>,
    /// Some interval landed in the fresh table.
    landed: bool,
}

impl FreshIsolation<'_, '_> {
    fn build(
        &mut self,
        fresh: &dyn FreshTable,
        requests: &[WriteRequest],
    ) -> warehouse::Result<()> {
        for request in requests {
            if !self.write(fresh, request, None)? && self.table.strategy == Strategy::Merge {
                break;
            }
        }
        match (self.landed, self.failed.first()) {
            (false, Some(first)) => Err(WarehouseError::data(format!(
                "no interval could be rebuilt; the first failed: {}",
                first.error.as_deref().unwrap_or_default()
            ))),
            _ => Ok(()),
        }
    }

    /// Whether every interval of the request landed.
    fn write(
        &mut self,
        fresh: &dyn FreshTable,
        request: &WriteRequest,
        parent: Option<&WarehouseError>,
    ) -> warehouse::Result<bool> {
        let error = match fresh.write(request) {
            Ok(written) => {
                self.checks.extend(written.checks);
                self.usage.add(written.usage);
                self.landed = true;
                return Ok(true);
            }
            Err(e) => e,
        };
        let alike =
            parent.is_some_and(|p| p.kind == FailureKind::Unknown && p.message == error.message);
        let splittable =
            self.table.schedule.next(request.interval.start()) < request.interval.end();
        if matches!(error.kind, FailureKind::Statement | FailureKind::Timeout)
            || (alike && !splittable)
        {
            return Err(error);
        }
        if !splittable {
            self.fail(request.interval, &error.message);
            return Ok(false);
        }
        let mut landed = true;
        for half in halves(self.table, request.interval) {
            let (sql, checks) = render(self.ctx, self.table, self.target, half, true)
                .map_err(WarehouseError::statement)?;
            let half_request = WriteRequest {
                sql: &sql,
                checks: &checks,
                interval: half,
                ..*request
            };
            if !self.write(fresh, &half_request, Some(&error))? {
                landed = false;
                if self.table.strategy == Strategy::Merge {
                    break;
                }
            }
        }
        Ok(landed)
    }

    /// Logs a failed interval of the rebuild (and, for merge, the rest as not applied).
    fn fail(&mut self, interval: Interval, error: &str) {
        self.log_failed(interval, error.to_string());
        if self.table.strategy == Strategy::Merge {
            if let Some(rest) = Interval::new(interval.end(), self.whole.end()) {
                self.log_failed(
                    rest,
                    format!("not applied: the interval {interval} before it failed"),
                );
            }
        }
    }

    fn log_failed(&mut self, interval: Interval, error: String) {
        let row = NewRun {
            interval: Some(interval),
            ..self.new_run.clone()
        };
        let run_id = self.ctx.metadata.begin_run(&row).unwrap_or_default();
        if run_id != 0 {
            let _ = self.ctx.metadata.finish_run(
                run_id,
                RunStatus::Failed,
                None,
                Some(&error),
                JobUsage::default(),
            );
        }
        self.failed.push(RunOutcome {
            run_id,
            table: self.table.name.to_string(),
            action: RunAction::Rebuild,
            interval_start: interval.start(),
            interval_end: interval.end(),
            status: RunStatus::Failed,
            rows_written: None,
            error: Some(error),
            warnings: Vec::new(),
            seconds: 0.0,
            failure: Some(FailureKind::Data),
        });
    }
}

fn record_success(
    table: &Table,
    batch: Interval,
    kind: RunAction,
    run_id: RunId,
    read_watermark: Option<Timestamp>,
    state: &Mutex<State>,
) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    s.last_run.insert(table.name.clone(), run_id);
    let watermark = match table.strategy {
        Strategy::Replace => read_watermark,
        Strategy::Append | Strategy::Merge => {
            let coverage = s.coverage.entry(table.name.clone()).or_default();
            if kind == RunAction::Rebuild {
                *coverage = IntervalSet::default();
            }
            coverage.insert(batch);
            coverage.covered_through(table.start)
        }
    };
    if let Some(w) = watermark {
        s.watermarks.insert(table.name.clone(), w);
    }
}

#[cfg(test)]
mod tests {
    use super::rename_tables;

    #[test]
    fn renames_whole_table_names_only() {
        let renames = [("core.users".to_string(), "dev__core.users".to_string())];
        assert_eq!(
            rename_tables("SELECT u.id FROM core.users u JOIN core.users_extra e ON core.users.id = e.id", &renames),
            "SELECT u.id FROM dev__core.users u JOIN core.users_extra e ON dev__core.users.id = e.id"
        );
        assert_eq!(
            rename_tables("FROM xcore.users, Core.Users", &renames),
            "FROM xcore.users, dev__core.users"
        );
    }
}

/// What a warehouse said about one table's query without running it.
#[derive(Clone, Debug, Serialize)]
pub struct DryRun {
    pub table: String,
    pub bytes: Option<u64>,
    pub error: Option<String>,
}

/// The bytes an action's queries would read, by dry run of each batch as it
/// would run in production; None when the warehouse cannot tell.
pub fn estimate_bytes(
    project: &Project,
    warehouse: &dyn Warehouse,
    action: &Action,
) -> Option<u64> {
    let table = project.table(&action.table)?;
    let mut total = 0;
    for (i, batch) in action.batches.iter().enumerate() {
        let first_build = i == 0 && action.kind == RunAction::Rebuild;
        let sql = render_for_prod(project, warehouse, table, *batch, first_build).ok()?;
        total += warehouse.dry_run(&sql, &table.name).ok()??;
    }
    Some(total)
}

/// A table's SQL for `interval` as it would run in production.
fn render_for_prod(
    project: &Project,
    warehouse: &dyn Warehouse,
    table: &Table,
    interval: Interval,
    is_first_build: bool,
) -> Result<String, String> {
    let this = warehouse.dialect().table(&PhysicalName::prod(&table.name));
    let render = RenderContext {
        input: table.input_range(interval),
        interval,
        this: &this,
        env: Env::Prod.name(),
        is_first_build,
        rows: None,
    };
    project
        .renderer
        .render(&table.sql, &render)
        .map_err(|e| e.message)
}

/// Dry-runs every table's query for its latest interval (in parallel, at most
/// `parallel` at once), as it would run in production.
pub fn dry_run(
    project: &Project,
    warehouse: &dyn Warehouse,
    now: Timestamp,
    parallel: usize,
) -> Vec<DryRun> {
    use rayon::prelude::*;
    let tables: Vec<&Table> = project.tables().collect();
    let one = |table: &&Table| {
        let interval = table
            .schedule
            .last_interval(table.start, now)
            .unwrap_or_else(|| table.schedule.interval_at(table.start));
        let result = render_for_prod(project, warehouse, table, interval, false)
            .and_then(|sql| warehouse.dry_run(&sql, &table.name).map_err(|e| e.message));
        DryRun {
            table: table.name.to_string(),
            bytes: result.as_ref().ok().copied().flatten(),
            error: result.err(),
        }
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(parallel.max(1))
        .build()
    {
        Ok(pool) => pool.install(|| tables.par_iter().map(one).collect()),
        Err(_) => tables.iter().map(one).collect(),
    }
}
