//! The commands behind the `derived` binary: each parses what it needs, calls
//! the application layer ([`crate::app`]) and renders the result, returning
//! what to print and the exit code, so every command is testable without
//! spawning a process.

pub mod args;
mod ci_cmd;
mod lineage_cmd;
mod output;
mod progress;
mod worker_cmd;

pub use args::{Cli, Command, Format, Global, SourceCommand, WorkerArgs};

use crate::app::worker::{IngestOptions, WorkerOptions};
use crate::app::{self, Loaded, Scope, Settings, Stores};
use crate::dag;
use crate::exec::{self, Progress};
use crate::plan::{Plan, Request, RequestKind};
use crate::project::load::ColumnAnalysis;
use crate::project::{self, TableName, WarehouseConfig};
use crate::time::{parse_timestamp, Interval};
use anyhow::{anyhow, bail, Context, Result};
use ci_cmd::{ci_command, history_command};

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

/// The settings every command runs with, parsed once from the flags.
pub fn settings(g: &Global) -> Result<Settings> {
    let now = g
        .now
        .as_deref()
        .map(parse_timestamp)
        .transpose()
        .map_err(|e| anyhow!("--now: {e}"))?;
    Ok(Settings::new(
        g.project.clone(),
        g.env.clone(),
        g.rev.clone(),
        now,
    ))
}

pub fn run(cli: Cli) -> Result<Outcome> {
    let s = &settings(&cli.global)?;
    let f = cli.global.format;
    match &cli.command {
        Command::Validate { dry_run } => validate(s, f, *dry_run),
        Command::Dag { select } => dag_command(s, f, select.as_deref()),
        Command::Plan { select } => plan_command(s, f, select.as_deref()),
        Command::Run {
            select,
            threads,
            max_bytes,
        } => run_command(s, f, select.as_deref(), *threads, *max_bytes),
        Command::Backfill {
            table,
            from,
            to,
            downstream,
            threads,
        } => backfill_command(s, f, table, from, to, *downstream, *threads),
        Command::Rebuild {
            table,
            downstream,
            threads,
        } => rebuild_command(s, f, table, *downstream, *threads),
        Command::Status { select, check } => status_command(s, f, select.as_deref(), *check),
        Command::Pause { table, reason } => pause_command(s, f, table, true, reason.as_deref()),
        Command::Resume { table } => pause_command(s, f, table, false, None),
        Command::Check { select } => check_command(s, f, select.as_deref()),
        Command::Test { select } => test_command(s, f, select.as_deref()),
        Command::Log {
            table,
            since,
            limit,
        } => log_command(s, f, table.as_deref(), since.as_deref(), *limit),
        Command::Query { sql } => query_command(s, f, sql),
        Command::Ci {
            base,
            head,
            last,
            report,
            cleanup,
        } => ci_command(
            &s.at_revision(head.clone()),
            base,
            last,
            report.as_deref(),
            cleanup.as_deref(),
        ),
        Command::History { table } => history_command(s, f, table),
        Command::Lookup { table, key } => lookup_command(s, f, table, key),
        Command::Lineage {
            node,
            upstream,
            downstream,
            depth,
            run,
        } => lineage_cmd::lineage_command(
            s,
            f,
            node.as_deref(),
            *upstream,
            *downstream,
            *depth,
            *run,
        ),
        Command::Docs { out } => lineage_cmd::docs_command(s, out),
        Command::Source {
            command: SourceCommand::Mark { source, through },
        } => mark_command(s, f, source, through),
        Command::Worker { flags } => {
            worker_cmd::worker_command(s, f, &worker_options(flags, None)?, None)
        }
        Command::Serve { flags, listen } => {
            worker_cmd::worker_command(s, f, &worker_options(flags, None)?, Some(*listen))
        }
        Command::Ingest {
            source,
            replay_from,
            batch,
            allow_gap,
            flags,
        } => {
            let ingest = IngestOptions {
                source,
                replay_from: replay_from.as_deref(),
                batch: *batch,
                allow_gap: *allow_gap,
            };
            worker_cmd::worker_command(s, f, &worker_options(flags, Some(ingest))?, None)
        }
    }
}

fn worker_options<'a>(
    a: &WorkerArgs,
    ingest: Option<IngestOptions<'a>>,
) -> Result<WorkerOptions<'a>> {
    Ok(WorkerOptions {
        threads: a.threads,
        exit_when_idle: a.exit_when_idle,
        poll: worker_cmd::duration("poll", &a.poll)?,
        lease_ttl: worker_cmd::duration("lease-ttl", &a.lease_ttl)?,
        retry_after: worker_cmd::duration("retry-after", &a.retry_after)?,
        ingest,
    })
}

/// BigQuery answers dry runs in parallel; more at once only queue at its quota.
const DRY_RUNS_AT_ONCE: usize = 8;

fn validate(s: &Settings, format: Format, dry_run: bool) -> Result<Outcome> {
    let Loaded { mut project, .. } = app::load(s, ColumnAnalysis::Always)?;
    let forward = app::forward_diagnostics(&project);
    project.diagnostics.extend(forward);
    if dry_run && !matches!(project.config.warehouse, WarehouseConfig::BigQuery { .. }) {
        bail!("--dry-run needs a warehouse that answers dry runs: set `warehouse: {{type: bigquery, ...}}` in derived.yml");
    }
    let dry_runs = if dry_run && !project.has_errors() {
        let warehouse = app::open_warehouse(&project.config.warehouse, true)?;
        Some(exec::dry_run(
            &project,
            warehouse.as_ref(),
            s.now(),
            DRY_RUNS_AT_ONCE,
        ))
    } else {
        None
    };
    let failed = dry_runs.iter().flatten().any(|d| d.error.is_some());
    let stdout = output::validation(&project, dry_runs.as_deref(), format);
    let code = u8::from(project.has_errors() || failed);
    ending_with(project);
    Ok(Outcome { stdout, code })
}

/// The process ends with the command: its exit frees a loaded project at
/// once, where dropping it one allocation at a time costs a large project
/// tens of milliseconds.
fn ending_with<T>(loaded: T) {
    std::mem::forget(loaded);
}

fn dag_command(s: &Settings, format: Format, select: Option<&str>) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let selected = loaded.selection(select)?.unwrap_or_else(|| {
        loaded
            .project
            .nodes
            .iter()
            .map(|n| n.name().clone())
            .collect()
    });
    let json = dag::to_json(&loaded.project, &loaded.dag, &selected);
    let stdout = match format {
        Format::Json => serde_json::to_string_pretty(&json)? + "\n",
        Format::Dot => dag::to_dot(&json),
        Format::Mermaid | Format::Text => dag::to_mermaid(&json),
    };
    Ok(Outcome::ok(stdout))
}

/// What `run` would do now; nothing is written (runs a stopped process left
/// `running` are closed by the next `run`).
fn plan_command(s: &Settings, format: Format, select: Option<&str>) -> Result<Outcome> {
    let (loaded, stores) = app::load_valid_with_stores(s)?;
    let selected = loaded.selection(select)?;
    let scope = Scope {
        selection: selected.as_ref(),
        ..Scope::default()
    };
    let situation = app::situation(s, &loaded, &stores, s.now(), scope)?;
    let bytes = app::estimate_bytes(&loaded.project, &stores, &situation.plan)?;
    let stdout = output::plan(&loaded.project, &situation.plan, &bytes, format);
    ending_with((loaded, situation));
    Ok(Outcome::ok(stdout))
}

fn run_command(
    s: &Settings,
    format: Format,
    select: Option<&str>,
    threads: Option<usize>,
    max_bytes: Option<u64>,
) -> Result<Outcome> {
    let (loaded, stores) = app::load_valid_with_stores(s)?;
    let selected = loaded.selection(select)?;
    let scope = Scope {
        selection: selected.as_ref(),
        ..Scope::default()
    };
    if let Some(max) = max_bytes {
        let situation = app::situation(s, &loaded, &stores, s.now(), scope)?;
        let bytes = app::estimate_bytes(&loaded.project, &stores, &situation.plan)?;
        if !matches!(
            loaded.project.config.warehouse,
            WarehouseConfig::BigQuery { .. }
        ) {
            bail!("--max-bytes needs a warehouse that estimates bytes by dry run: set `warehouse: {{type: bigquery, ...}}` in derived.yml");
        }
        let Some(total) = app::total_bytes(&bytes) else {
            let unknown: Vec<String> = situation
                .plan
                .actions
                .iter()
                .zip(&bytes)
                .filter(|(_, b)| b.is_none())
                .map(|(a, _)| a.table.to_string())
                .collect();
            bail!(
                "--max-bytes: the dry runs of {} failed, so the plan's bytes are unknown; nothing ran (`derived validate --dry-run` shows why)",
                unknown.join(", ")
            );
        };
        if total > max {
            return Ok(Outcome {
                stdout: output::refused(&loaded.project, &situation.plan, &bytes, max, format),
                code: 1,
            });
        }
    }
    let outcome = execute(s, format, &loaded, &stores, scope, threads);
    ending_with(loaded);
    outcome
}

fn backfill_command(
    s: &Settings,
    format: Format,
    table: &str,
    from: &str,
    to: &str,
    downstream: bool,
    threads: Option<usize>,
) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let name = loaded.known_name(table)?;
    let from = parse_timestamp(from).map_err(|e| anyhow!("--from: {e}"))?;
    let to = parse_timestamp(to).map_err(|e| anyhow!("--to: {e}"))?;
    let range = Interval::new(from, to).ok_or_else(|| anyhow!("--from must be before --to"))?;
    if loaded
        .project
        .get(&name)
        .is_some_and(|n| n.as_source().is_some())
    {
        // A source's rewrite is logged like any other; its readers repair from the log.
        let stores = app::open_stores(&loaded.project)?;
        crate::metadata::record_source_rewrite(
            stores.metadata.as_ref(),
            s.env.name(),
            &name,
            range,
            &app::user(),
            s.now(),
        )?;
        let selection = loaded.dag.all_downstream(&name);
        let scope = Scope {
            selection: Some(&selection),
            ..Scope::default()
        };
        return execute(s, format, &loaded, &stores, scope, threads);
    }
    let request = Request {
        table: name.clone(),
        kind: RequestKind::Backfill(range),
    };
    let selection = loaded.with_downstream(&name, downstream);
    let scope = Scope {
        selection: Some(&selection),
        request: Some(&request),
        ..Scope::default()
    };
    let stores = app::open_stores(&loaded.project)?;
    execute(s, format, &loaded, &stores, scope, threads)
}

fn rebuild_command(
    s: &Settings,
    format: Format,
    table: &str,
    downstream: bool,
    threads: Option<usize>,
) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let name = loaded.known_name(table)?;
    if loaded.project.table(&name).is_none() {
        bail!("`{table}` is a source; sources are not built by derived (use `derived backfill {table} --from .. --to ..`)");
    }
    let request = Request {
        table: name.clone(),
        kind: RequestKind::Rebuild,
    };
    let selection = loaded.with_downstream(&name, downstream);
    let scope = Scope {
        selection: Some(&selection),
        request: Some(&request),
        ..Scope::default()
    };
    let stores = app::open_stores(&loaded.project)?;
    execute(s, format, &loaded, &stores, scope, threads)
}

/// Recovers abandoned runs, runs what is due; exit 1 when any run failed.
fn execute(
    s: &Settings,
    format: Format,
    loaded: &Loaded,
    stores: &Stores,
    scope: Scope,
    threads: Option<usize>,
) -> Result<Outcome> {
    let recovered = app::run::recover(s, stores)?;
    if recovered > 0 {
        eprintln!("recovered {recovered} run(s) left unfinished by a stopped process");
    }
    let progress = |plan: &Plan| -> Box<dyn Progress> { progress::for_terminal(plan) };
    let report = app::run::run(s, loaded, stores, scope, threads, &progress)?;
    let code = u8::from(report.failed > 0 || report.setup_error.is_some());
    Ok(Outcome {
        stdout: output::run_report(&report, format),
        code,
    })
}

fn status_command(
    s: &Settings,
    format: Format,
    select: Option<&str>,
    check: bool,
) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let selected = loaded.selection(select)?;
    let stores = app::open_stores(&loaded.project)?;
    let rows = app::status::status(s, &loaded, &stores, selected.as_ref())?;
    let unhealthy = rows.iter().any(|r| r.state.is_unhealthy());
    Ok(Outcome {
        stdout: output::status(&rows, format),
        code: u8::from(check && unhealthy),
    })
}

fn check_command(s: &Settings, format: Format, select: Option<&str>) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let selected = loaded.selection(select)?;
    let stores = app::open_stores(&loaded.project)?;
    let results = app::checks::check_tables(s, &loaded, &stores, selected.as_ref())?;
    let failed = results.iter().any(app::checks::CheckReport::failed);
    Ok(Outcome {
        stdout: output::checks(&results, format),
        code: u8::from(failed),
    })
}

fn test_command(s: &Settings, format: Format, select: Option<&str>) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let loaded = app::load_valid(s)?;
    let selected = loaded.selection(select)?;
    let outcomes = app::testing::test_tables(&loaded, selected.as_ref())?;
    let failed = outcomes.iter().any(|o| !o.passed());
    Ok(Outcome {
        stdout: output::tests(&outcomes, started.elapsed(), format),
        code: u8::from(failed),
    })
}

fn log_command(
    s: &Settings,
    format: Format,
    table: Option<&str>,
    since: Option<&str>,
    limit: usize,
) -> Result<Outcome> {
    let project = app::load(s, ColumnAnalysis::WhenGuarded)?.project;
    let metadata = app::open_metadata(&project.config.metadata)?;
    let since = since
        .map(parse_timestamp)
        .transpose()
        .map_err(|e| anyhow!("--since: {e}"))?;
    // A table that is no longer defined is looked up as typed.
    let table = table.map(|t| project.resolve(t).map_or(t, TableName::as_str));
    let records = metadata.log(s.env.name(), table, since, limit)?;
    Ok(Outcome::ok(output::log(&records, format)))
}

/// `derived pause` and `derived resume`.
fn pause_command(
    s: &Settings,
    format: Format,
    table: &str,
    pause: bool,
    reason: Option<&str>,
) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let stores = app::open_stores(&loaded.project)?;
    let change = app::pause(s, &loaded, &stores, table, pause, reason)?;
    let name = &change.table;
    let stdout = match (pause, format) {
        (_, Format::Json) => {
            serde_json::to_string(&serde_json::json!({
                "table": name,
                "paused": change.paused,
                "by": change.by,
                "reason": reason,
                "downstream_held": change.downstream_held,
            }))? + "\n"
        }
        (true, _) => format!(
            "paused {name} and the {} table(s) downstream of it\n",
            change.downstream_held
        ),
        (false, _) => format!("resumed {name}\n"),
    };
    Ok(Outcome::ok(stdout))
}

fn query_command(s: &Settings, format: Format, sql: &str) -> Result<Outcome> {
    let config = project::config::read(&s.project);
    let warehouse = app::open_warehouse(&config.warehouse, true)?;
    let result = warehouse.query_read_only(sql).context("query failed")?;
    Ok(Outcome::ok(output::query(&result, format)))
}

fn lookup_command(s: &Settings, format: Format, table: &str, key: &[String]) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let name = loaded.known_name(table)?;
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
            stdout: if format == Format::Json {
                "null\n".into()
            } else {
                "not found\n".into()
            },
            code: 1,
        });
    };
    let stdout = match format {
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

fn mark_command(s: &Settings, format: Format, source: &str, through: &str) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let through = parse_timestamp(through).map_err(|e| anyhow!("--through: {e}"))?;
    let stores = app::open_stores(&loaded.project)?;
    app::mark_source(s, &loaded, &stores, source, through)?;
    let stdout = match format {
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
