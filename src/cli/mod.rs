//! The commands behind the `derived` binary. Each returns what to print and the
//! exit code, so every command is testable without spawning a process.

pub mod args;
mod ci_cmd;
mod ingesting;
mod lineage_cmd;
mod output;
mod progress;
mod worker_cmd;

pub use args::{Cli, Command, Format, Global, SourceCommand, WorkerArgs};

use crate::dag::{self, Dag};
use crate::exec::{self, RunContext};
use crate::git;
use crate::metadata::duckdb::DuckDbMetadata;
use crate::metadata::postgres::PostgresMetadata;
use crate::metadata::{LogSnapshot, MetadataStore};
use crate::plan::{self, Plan, PlanInput, Request, RequestKind};
use crate::project::load::ColumnAnalysis;
use crate::project::{self, MetadataConfig, Project, TableName, WarehouseConfig};
use crate::time::{parse_timestamp, Interval, Timestamp};
use crate::warehouse::bigquery::{
    BigQueryWarehouse, Connection as BigQueryConnection, Credentials,
};
use crate::warehouse::duckdb::DuckDbWarehouse;
use crate::warehouse::postgres::PostgresWarehouse;
use crate::warehouse::Warehouse;
use anyhow::{anyhow, bail, Context, Result};
use ci_cmd::{ci_command, history_command};
use std::collections::{BTreeSet, HashMap};

/// What a command prints on stdout and how it exits.
pub struct Outcome {
    pub stdout: String,
    pub code: u8,
}

impl Outcome {
    fn ok(stdout: String) -> Outcome {
        Outcome { stdout, code: 0 }
    }
}

pub fn run(cli: Cli) -> Result<Outcome> {
    let g = &cli.global;
    match &cli.command {
        Command::Validate { dry_run } => validate(g, *dry_run),
        Command::Dag { select } => dag_command(g, select.as_deref()),
        Command::Plan { select } => plan_command(g, select.as_deref()),
        Command::Run { select, threads } => run_command(g, select.as_deref(), *threads),
        Command::Backfill {
            table,
            from,
            to,
            downstream,
            threads,
        } => backfill_command(g, table, from, to, *downstream, *threads),
        Command::Rebuild {
            table,
            downstream,
            threads,
        } => rebuild_command(g, table, *downstream, *threads),
        Command::Status { select, check } => status_command(g, select.as_deref(), *check),
        Command::Pause { table, reason } => pause_command(g, table, true, reason.as_deref()),
        Command::Resume { table } => pause_command(g, table, false, None),
        Command::Check { select } => check_command(g, select.as_deref()),
        Command::Log {
            table,
            since,
            limit,
        } => log_command(g, table.as_deref(), since.as_deref(), *limit),
        Command::Query { sql } => query_command(g, sql),
        Command::Ci {
            base,
            head,
            last,
            report,
            cleanup,
        } => ci_command(
            g,
            base,
            head.as_deref(),
            last,
            report.as_deref(),
            cleanup.as_deref(),
        ),
        Command::History { table } => history_command(g, table),
        Command::Lookup { table, key } => lookup_command(g, table, key),
        Command::Lineage {
            node,
            upstream,
            downstream,
            depth,
            run,
        } => lineage_cmd::lineage_command(g, node.as_deref(), *upstream, *downstream, *depth, *run),
        Command::Docs { out } => lineage_cmd::docs_command(g, out),
        Command::Source {
            command: SourceCommand::Mark { source, through },
        } => mark_command(g, source, through),
        Command::Worker { flags } => {
            worker_cmd::worker_command(g, &worker_flags(flags, None, None))
        }
        Command::Serve { flags, listen } => {
            worker_cmd::worker_command(g, &worker_flags(flags, Some(*listen), None))
        }
        Command::Ingest {
            source,
            replay_from,
            batch,
            allow_gap,
            flags,
        } => {
            let ingest = worker_cmd::IngestFlags {
                source,
                replay_from: replay_from.as_deref(),
                batch: *batch,
                allow_gap: *allow_gap,
            };
            worker_cmd::worker_command(g, &worker_flags(flags, None, Some(ingest)))
        }
    }
}

fn worker_flags<'a>(
    a: &'a WorkerArgs,
    listen: Option<std::net::SocketAddr>,
    ingest: Option<worker_cmd::IngestFlags<'a>>,
) -> worker_cmd::WorkerFlags<'a> {
    worker_cmd::WorkerFlags {
        threads: a.threads,
        exit_when_idle: a.exit_when_idle,
        poll: &a.poll,
        lease_ttl: &a.lease_ttl,
        retry_after: &a.retry_after,
        listen,
        ingest,
    }
}

fn now(g: &Global) -> Result<Timestamp> {
    match &g.now {
        Some(text) => parse_timestamp(text).map_err(|e| anyhow!("--now: {e}")),
        None => Ok(chrono::Utc::now()),
    }
}

/// A loaded project and its DAG.
struct Loaded {
    project: Project,
    dag: Dag,
    /// The commit the definitions were read from (`--rev`).
    git_commit: Option<String>,
}

impl Loaded {
    /// The commit runs record: `--rev`'s, or HEAD when the working tree is clean.
    fn commit_of_runs(&self, g: &Global) -> Option<String> {
        self.git_commit
            .clone()
            .or_else(|| git::clean_head(&g.project))
    }
}

fn load(g: &Global) -> Result<Loaded> {
    load_checking(g, ColumnAnalysis::WhenGuarded)
}

fn load_checking(g: &Global, columns: ColumnAnalysis) -> Result<Loaded> {
    match &g.rev {
        Some(rev) => {
            let revision = git::at_revision(&g.project, rev)?;
            Ok(with_dag(
                project::load::load_with(&g.project, &revision.files, columns),
                Some(revision.commit),
                columns,
            ))
        }
        None => Ok(with_dag(
            project::load::load_with(&g.project, &project::load::Disk, columns),
            None,
            columns,
        )),
    }
}

fn with_dag(mut project: Project, git_commit: Option<String>, columns: ColumnAnalysis) -> Loaded {
    let (dag, problems) = Dag::build(&project);
    let cyclic = !problems.is_empty();
    project.diagnostics.extend(problems);
    let guarded = crate::governance::is_guarded(&project);
    if !cyclic && (guarded || columns == ColumnAnalysis::Always) {
        let lineages = crate::lineage::all_columns(&project);
        let exposed = crate::governance::check(&project, &dag, &lineages);
        project.diagnostics.extend(exposed);
        if columns == ColumnAnalysis::Always {
            let mismatches = crate::lineage::column_diagnostics(&project, &lineages);
            project.diagnostics.extend(mismatches);
        }
    }
    project::diagnostic::sort(&mut project.diagnostics);
    Loaded {
        project,
        dag,
        git_commit,
    }
}

/// Loads the project and refuses to go on when it has errors.
fn load_valid(g: &Global) -> Result<Loaded> {
    let loaded = load(g)?;
    if loaded.project.has_errors() {
        let errors: Vec<_> = loaded.project.errors().cloned().collect();
        let text =
            project::diagnostic::render_text(&errors, &loaded.project.files, &loaded.project.root);
        bail!("the project has {} problem(s); fix them first (`derived validate` lists them):\n{text}", errors.len());
    }
    Ok(loaded)
}

/// BigQuery answers dry runs in parallel; more at once only queue at its quota.
const DRY_RUNS_AT_ONCE: usize = 8;

fn validate(g: &Global, dry_run: bool) -> Result<Outcome> {
    let Loaded { project, .. } = load_checking(g, ColumnAnalysis::Always)?;
    if dry_run && !matches!(project.config.warehouse, WarehouseConfig::BigQuery { .. }) {
        bail!("--dry-run needs a warehouse that answers dry runs: set `warehouse: {{type: bigquery, ...}}` in derived.yml");
    }
    let dry_runs = if dry_run && !project.has_errors() {
        let warehouse = open_warehouse(&project.config.warehouse, true)?;
        Some(exec::dry_run(
            &project,
            warehouse.as_ref(),
            now(g)?,
            DRY_RUNS_AT_ONCE,
        ))
    } else {
        None
    };
    let failed = dry_runs.iter().flatten().any(|d| d.error.is_some());
    let stdout = output::validation(&project, dry_runs.as_deref(), g.format);
    Ok(Outcome {
        stdout,
        code: u8::from(project.has_errors() || failed),
    })
}

fn selection(loaded: &Loaded, select: Option<&str>) -> Result<Option<BTreeSet<TableName>>> {
    select
        .map(|s| {
            loaded
                .dag
                .select(&loaded.project, s)
                .map_err(|e| anyhow!(e))
        })
        .transpose()
}

fn dag_command(g: &Global, select: Option<&str>) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let selected = selection(&loaded, select)?.unwrap_or_else(|| {
        loaded
            .project
            .nodes
            .iter()
            .map(|n| n.name().clone())
            .collect()
    });
    let json = dag::to_json(&loaded.project, &loaded.dag, &selected);
    let stdout = match g.format {
        Format::Json => serde_json::to_string_pretty(&json)? + "\n",
        Format::Dot => dag::to_dot(&json),
        Format::Mermaid | Format::Text => dag::to_mermaid(&json),
    };
    Ok(Outcome::ok(stdout))
}

/// The warehouse and log of a project, opened for writing.
struct Stores {
    warehouse: Box<dyn Warehouse>,
    metadata: Box<dyn MetadataStore>,
}

fn open_warehouse(config: &WarehouseConfig, read_only: bool) -> Result<Box<dyn Warehouse>> {
    Ok(match config {
        WarehouseConfig::DuckDb { path } if read_only => {
            Box::new(DuckDbWarehouse::open_read_only(path)?)
        }
        WarehouseConfig::DuckDb { path } => Box::new(DuckDbWarehouse::open(path)?),
        WarehouseConfig::BigQuery {
            project,
            location,
            credentials,
            endpoint,
        } => {
            let token = std::env::var("DERIVED_BQ_ACCESS_TOKEN").ok();
            let credentials = match (token, credentials) {
                (Some(token), _) => Credentials::Token(token),
                (None, Some(path)) => Credentials::KeyFile(path.clone()),
                (None, None) if endpoint.is_some() => Credentials::Token("local".into()),
                (None, None) => Credentials::ApplicationDefault,
            };
            Box::new(BigQueryWarehouse::connect(BigQueryConnection {
                project,
                location: location.as_deref(),
                endpoint: endpoint.as_deref(),
                credentials,
            })?)
        }
        WarehouseConfig::Postgres { url } => Box::new(PostgresWarehouse::connect(url)?),
    })
}

/// The metadata store of `derived.yml`; `DERIVED_METADATA_URL` (a PostgreSQL
/// URL) overrides it, so that workers can share a store without editing files.
fn open_metadata(config: &MetadataConfig) -> Result<Box<dyn MetadataStore>> {
    if let Ok(url) = std::env::var("DERIVED_METADATA_URL") {
        let schema = match config {
            MetadataConfig::Postgres { schema, .. } => schema.as_str(),
            MetadataConfig::DuckDb { .. } => "derived",
        };
        return Ok(Box::new(PostgresMetadata::connect(&url, schema)?));
    }
    Ok(match config {
        MetadataConfig::DuckDb { path } => Box::new(DuckDbMetadata::open(path)?),
        MetadataConfig::Postgres { url, schema } => {
            Box::new(PostgresMetadata::connect(url, schema)?)
        }
    })
}

fn open_stores(project: &Project) -> Result<Stores> {
    let warehouse = open_warehouse(&project.config.warehouse, false)?;
    let metadata = open_metadata(&project.config.metadata)?;
    Ok(Stores {
        warehouse,
        metadata,
    })
}

/// Everything a plan is made from, read at one moment.
struct Situation {
    snapshot: LogSnapshot,
    plan: Plan,
}

/// What to plan for: everything, a selection, or a person's request.
#[derive(Clone, Copy, Default)]
struct Scope<'a> {
    selection: Option<&'a BTreeSet<TableName>>,
    request: Option<&'a Request>,
    /// Failed tables wait instead of being retried now (a worker between retries).
    hold_failed: bool,
}

fn situation(
    loaded: &Loaded,
    stores: &Stores,
    g: &Global,
    now: Timestamp,
    scope: Scope,
) -> Result<Situation> {
    let watermarks = source_watermarks(loaded, stores, now)?;
    situation_given(loaded, stores, g, now, scope, &watermarks)
}

/// How complete every source is now (its files readable first).
fn source_watermarks(
    loaded: &Loaded,
    stores: &Stores,
    now: Timestamp,
) -> Result<HashMap<TableName, Timestamp>> {
    let sources: Vec<_> = loaded.project.sources().collect();
    stores
        .warehouse
        .prepare_sources(&sources, &loaded.project.root)?;
    exec::source_watermarks(
        &loaded.project,
        stores.warehouse.as_ref(),
        stores.metadata.as_ref(),
        now,
    )
}

/// The situation with the sources' watermarks already known.
fn situation_given(
    loaded: &Loaded,
    stores: &Stores,
    g: &Global,
    now: Timestamp,
    scope: Scope,
    watermarks: &HashMap<TableName, Timestamp>,
) -> Result<Situation> {
    let snapshot = stores
        .metadata
        .snapshot(&g.env, longest_input(&loaded.project))?;
    let plan = plan::plan(&PlanInput {
        project: &loaded.project,
        dag: &loaded.dag,
        log: &snapshot,
        source_watermarks: watermarks,
        now,
        selection: scope.selection,
        retry_failed: !scope.hold_failed,
        request: scope.request,
    });
    Ok(Situation { snapshot, plan })
}

/// The longest input range any table reads (its window, or its period).
fn longest_input(project: &Project) -> crate::time::Duration {
    project
        .tables()
        .map(|t| {
            t.window
                .unwrap_or(t.schedule.period())
                .max(t.schedule.period())
        })
        .max()
        .unwrap_or(crate::time::Duration::from_seconds(0))
}

fn plan_command(g: &Global, select: Option<&str>) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let selected = selection(&loaded, select)?;
    let stores = open_stores(&loaded.project)?;
    exec::recover_abandoned(stores.metadata.as_ref(), stores.warehouse.as_ref(), &g.env)?;
    let now = now(g)?;
    let s = situation(
        &loaded,
        &stores,
        g,
        now,
        Scope {
            selection: selected.as_ref(),
            ..Scope::default()
        },
    )?;
    Ok(Outcome::ok(output::plan(
        &loaded.project,
        &s.plan,
        g.format,
    )))
}

fn run_command(g: &Global, select: Option<&str>, threads: Option<usize>) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let selected = selection(&loaded, select)?;
    let stores = open_stores(&loaded.project)?;
    execute(
        g,
        &loaded,
        &stores,
        Scope {
            selection: selected.as_ref(),
            ..Scope::default()
        },
        threads,
    )
}

fn backfill_command(
    g: &Global,
    table: &str,
    from: &str,
    to: &str,
    downstream: bool,
    threads: Option<usize>,
) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let name = known_name(&loaded, table)?;
    let from = parse_timestamp(from).map_err(|e| anyhow!("--from: {e}"))?;
    let to = parse_timestamp(to).map_err(|e| anyhow!("--to: {e}"))?;
    let range = Interval::new(from, to).ok_or_else(|| anyhow!("--from must be before --to"))?;
    let stores = open_stores(&loaded.project)?;
    if loaded
        .project
        .get(&name)
        .is_some_and(|n| n.as_source().is_some())
    {
        // A source's rewrite is logged like any other; its readers repair from the log.
        crate::metadata::record_source_rewrite(
            stores.metadata.as_ref(),
            &g.env,
            &name,
            range,
            &user(),
            now(g)?,
        )?;
        let selection = loaded.dag.all_downstream(&name);
        return execute(
            g,
            &loaded,
            &stores,
            Scope {
                selection: Some(&selection),
                ..Scope::default()
            },
            threads,
        );
    }
    let request = Request {
        table: name.clone(),
        kind: RequestKind::Backfill(range),
    };
    let selection = with_downstream(&loaded, &name, downstream);
    execute(
        g,
        &loaded,
        &stores,
        Scope {
            selection: Some(&selection),
            request: Some(&request),
            ..Scope::default()
        },
        threads,
    )
}

fn rebuild_command(
    g: &Global,
    table: &str,
    downstream: bool,
    threads: Option<usize>,
) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let name = known_name(&loaded, table)?;
    if loaded.project.table(&name).is_none() {
        bail!("`{table}` is a source; sources are not built by derived (use `derived backfill {table} --from .. --to ..`)");
    }
    let stores = open_stores(&loaded.project)?;
    let request = Request {
        table: name.clone(),
        kind: RequestKind::Rebuild,
    };
    let selection = with_downstream(&loaded, &name, downstream);
    execute(
        g,
        &loaded,
        &stores,
        Scope {
            selection: Some(&selection),
            request: Some(&request),
            ..Scope::default()
        },
        threads,
    )
}

fn known_name(loaded: &Loaded, text: &str) -> Result<TableName> {
    let name = TableName::parse(text).map_err(|e| anyhow!(e))?;
    if let Some(node) = loaded.project.get(&name) {
        return Ok(node.name().clone());
    }
    let known: Vec<&str> = loaded
        .project
        .nodes
        .iter()
        .map(|n| n.name().as_str())
        .collect();
    let hint = project::suggest(text, &known)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    bail!("no source or table is named `{text}`{hint}");
}

fn with_downstream(loaded: &Loaded, name: &TableName, downstream: bool) -> BTreeSet<TableName> {
    let mut selection = if downstream {
        loaded.dag.all_downstream(name)
    } else {
        BTreeSet::new()
    };
    selection.insert(name.clone());
    selection
}

fn user() -> String {
    std::env::var("DERIVED_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "user".into())
}

/// Closes the runs a stopped process left `running`, saying how many.
fn recover(stores: &Stores, g: &Global) -> Result<()> {
    let recovered =
        exec::recover_abandoned(stores.metadata.as_ref(), stores.warehouse.as_ref(), &g.env)?;
    if recovered > 0 {
        eprintln!("recovered {recovered} run(s) left unfinished by a stopped process");
    }
    Ok(())
}

/// Recovers abandoned runs, plans and runs; exit 1 when any run failed.
fn execute(
    g: &Global,
    loaded: &Loaded,
    stores: &Stores,
    scope: Scope,
    threads: Option<usize>,
) -> Result<Outcome> {
    recover(stores, g)?;
    let now = now(g)?;
    let user = user();
    let git_commit = loaded.commit_of_runs(g);
    let everything: BTreeSet<TableName>;
    let wanted = match scope.selection {
        Some(selection) => selection,
        None => {
            everything = loaded.project.tables().map(|t| t.name.clone()).collect();
            &everything
        }
    };
    // Plan, run, and plan again for the tables that have not run yet: a table
    // that failed blocks its downstream in the plan (as `plan` shows it), and
    // the downstream of a retry that succeeded still runs in this command.
    let mut report = exec::RunReport::default();
    let mut ran: BTreeSet<TableName> = BTreeSet::new();
    let watermarks = source_watermarks(loaded, stores, now)?;
    loop {
        let allowed: BTreeSet<TableName> = wanted.difference(&ran).cloned().collect();
        let s = situation_given(
            loaded,
            stores,
            g,
            now,
            Scope {
                selection: Some(&allowed),
                ..scope
            },
            &watermarks,
        )?;
        if s.plan.actions.is_empty() {
            report.blocked = s.plan.blocked;
            break;
        }
        let progress = progress::for_terminal(&s.plan);
        let ctx = RunContext {
            project: &loaded.project,
            dag: &loaded.dag,
            warehouse: stores.warehouse.as_ref(),
            metadata: stores.metadata.as_ref(),
            env: &g.env,
            as_of: now,
            triggered_by: &user,
            git_commit: git_commit.as_deref(),
            threads: threads.unwrap_or_else(default_threads),
            progress: progress.as_ref(),
            env_tables: None,
            stop: None,
        };
        let round = exec::execute(&ctx, &s.plan, &s.snapshot);
        drop(progress);
        let before = ran.len();
        ran.extend(
            round
                .runs
                .iter()
                .map(|r| TableName::from_reference(&r.table)),
        );
        let stuck = ran.len() == before;
        report.succeeded += round.succeeded;
        report.failed += round.failed;
        report.runs.extend(round.runs);
        report.deferred.extend(round.deferred);
        report.setup_error = report.setup_error.or(round.setup_error);
        if stuck {
            report.blocked = round.blocked;
            break;
        }
    }
    let code = u8::from(report.failed > 0 || report.setup_error.is_some());
    Ok(Outcome {
        stdout: output::run_report(&report, g.format),
        code,
    })
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn status_command(g: &Global, select: Option<&str>, check: bool) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let selected = selection(&loaded, select)?;
    let stores = open_stores(&loaded.project)?;
    let now = now(g)?;
    let s = situation(&loaded, &stores, g, now, Scope::default())?;
    let last_runs: Vec<_> = s
        .snapshot
        .tables
        .values()
        .filter_map(|l| l.last_attempt.as_ref().map(|a| a.run_id))
        .collect();
    let checks = stores.metadata.check_results(&last_runs)?;
    let rows = output::status_rows(
        &loaded,
        &s.snapshot,
        &s.plan,
        &checks,
        now,
        selected.as_ref(),
    );
    let unhealthy = rows
        .iter()
        .any(|r| matches!(r.state, "failed" | "blocked" | "late"));
    Ok(Outcome {
        stdout: output::status(&rows, g.format),
        code: u8::from(check && unhealthy),
    })
}

fn check_command(g: &Global, select: Option<&str>) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let selected = selection(&loaded, select)?;
    let stores = open_stores(&loaded.project)?;
    let now = now(g)?;
    let mut results = Vec::new();
    for table in loaded.project.tables() {
        if selected.as_ref().is_some_and(|s| !s.contains(&table.name)) || table.checks.is_empty() {
            continue;
        }
        let target = crate::warehouse::PhysicalName::of(&table.name, &g.env);
        if !stores.warehouse.table_exists(&target)? {
            results.push(output::CheckReport {
                table: table.name.to_string(),
                error: Some("not built yet".into()),
                checks: Vec::new(),
            });
            continue;
        }
        let interval = table
            .schedule
            .last_interval(table.start, now)
            .unwrap_or_else(|| table.schedule.interval_at(table.start));
        let this = target.sql();
        let render = crate::project::template::RenderContext {
            input: table.input_range(interval),
            interval,
            this: &this,
            env: &g.env,
            is_first_build: false,
            rows: None,
        };
        let prepared = exec::prepare_checks(&loaded.project, table, &g.env, &render)
            .map_err(|e| anyhow!(e))?;
        let outcome = stores.warehouse.check(&target, &prepared);
        results.push(match outcome {
            Ok(checks) => output::CheckReport {
                table: table.name.to_string(),
                error: None,
                checks,
            },
            Err(e) => output::CheckReport {
                table: table.name.to_string(),
                error: Some(e.message),
                checks: Vec::new(),
            },
        });
    }
    let failed = results.iter().any(|r| {
        r.error.is_some()
            || r.checks
                .iter()
                .any(|c| !c.passed() && c.severity == crate::checks::CheckSeverity::Error)
    });
    Ok(Outcome {
        stdout: output::checks(&results, g.format),
        code: u8::from(failed),
    })
}

fn log_command(
    g: &Global,
    table: Option<&str>,
    since: Option<&str>,
    limit: usize,
) -> Result<Outcome> {
    let project = project::load(&g.project);
    let metadata = open_metadata(&project.config.metadata)?;
    let since = since
        .map(parse_timestamp)
        .transpose()
        .map_err(|e| anyhow!("--since: {e}"))?;
    // A table that is no longer defined is looked up as typed.
    let table = table.map(|t| project.resolve(t).map_or(t, TableName::as_str));
    let records = metadata.log(&g.env, table, since, limit)?;
    Ok(Outcome::ok(output::log(&records, g.format)))
}

/// `derived pause` and `derived resume`: a row in the log says who, when and why.
fn pause_command(g: &Global, table: &str, pause: bool, reason: Option<&str>) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let name = known_name(&loaded, table)?;
    if loaded.project.table(&name).is_none() {
        bail!("`{name}` is a source; pause the tables that read it");
    }
    let stores = open_stores(&loaded.project)?;
    let snapshot = stores
        .metadata
        .snapshot(&g.env, longest_input(&loaded.project))?;
    let paused = snapshot.tables.get(&name).and_then(|l| l.paused.as_ref());
    match (pause, paused) {
        (true, Some(p)) => bail!(
            "`{name}` is already paused (by {} at {}{})",
            p.by,
            crate::time::format_ts(p.at),
            p.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        (false, None) => bail!("`{name}` is not paused"),
        _ => {}
    }
    let by = user();
    crate::metadata::record_pause(
        stores.metadata.as_ref(),
        &g.env,
        &name,
        pause,
        &by,
        reason,
        now(g)?,
    )?;
    let downstream = loaded.dag.all_downstream(&name).len();
    let stdout = match (pause, g.format) {
        (_, Format::Json) => {
            serde_json::to_string(&serde_json::json!({
                "table": name,
                "paused": pause,
                "by": by,
                "reason": reason,
                "downstream_held": if pause { downstream } else { 0 },
            }))? + "\n"
        }
        (true, _) => format!("paused {name} and the {downstream} table(s) downstream of it\n"),
        (false, _) => format!("resumed {name}\n"),
    };
    Ok(Outcome::ok(stdout))
}

fn query_command(g: &Global, sql: &str) -> Result<Outcome> {
    let config = project::load(&g.project).config;
    let warehouse = open_warehouse(&config.warehouse, true)?;
    let result = warehouse.query(sql).context("query failed")?;
    Ok(Outcome::ok(output::query(&result, g.format)))
}

fn lookup_command(g: &Global, table: &str, key: &[String]) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let name = known_name(&loaded, table)?;
    let definition = loaded
        .project
        .table(&name)
        .ok_or_else(|| anyhow!("`{table}` is a source; only tables are exported"))?;
    let export = definition
        .exports
        .first()
        .ok_or_else(|| anyhow!("`{table}` has no `export:`"))?;
    if key.len() != export.key.len() {
        bail!(
            "`{table}` is exported by {} ({}); give that many key values",
            export.key.len(),
            export.key.join(", ")
        );
    }
    let store = loaded
        .project
        .config
        .stores
        .get(&export.to)
        .ok_or_else(|| anyhow!("no store named `{}`", export.to))?;
    let mut store = crate::export::connect(&export.to, store)?;
    let Some(row) = store.lookup(definition, export, key)? else {
        return Ok(Outcome {
            stdout: if g.format == Format::Json {
                "null\n".into()
            } else {
                "not found\n".into()
            },
            code: 1,
        });
    };
    let stdout = match g.format {
        Format::Json => serde_json::to_string(&row)? + "\n",
        _ => row
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}: {}\n",
                    crate::export::text(v).unwrap_or_else(|| "NULL".into())
                )
            })
            .collect(),
    };
    Ok(Outcome::ok(stdout))
}

fn mark_command(g: &Global, source: &str, through: &str) -> Result<Outcome> {
    let loaded = load_valid(g)?;
    let name = TableName::parse(source).map_err(|e| anyhow!(e))?;
    let Some(name) = loaded
        .project
        .get(&name)
        .and_then(|n| n.as_source())
        .map(|s| s.name.clone())
    else {
        bail!("`{source}` is not a source of this project");
    };
    let through = parse_timestamp(through).map_err(|e| anyhow!("--through: {e}"))?;
    let now = now(g)?;
    if through > now {
        bail!(
            "cannot mark {source} complete through {} : that is after now ({})",
            crate::time::format_ts(through),
            crate::time::format_ts(now)
        );
    }
    let stores = open_stores(&loaded.project)?;
    if let Some(current) = stores.metadata.source_marks()?.get(&name) {
        if through < *current {
            bail!(
                "{source} is already complete through {}; a mark never moves backwards",
                crate::time::format_ts(*current)
            );
        }
    }
    stores
        .metadata
        .mark_source(&g.env, &name, through, now, &user())?;
    let stdout = match g.format {
        Format::Json => {
            serde_json::json!({"source": source, "through": crate::time::format_ts(through)})
                .to_string()
                + "\n"
        }
        _ => format!(
            "{source} is complete through {}\n",
            crate::time::format_ts(through)
        ),
    };
    Ok(Outcome::ok(stdout))
}
