//! `derived ci` and `derived history`: changes between revisions, shadow builds
//! on production data, and a definition's commits next to its runs.

use super::{
    default_threads, load, open_stores, progress, with_dag, Format, Global, Loaded, Outcome,
};
use crate::ci::{self, Built, Report};
use crate::exec::{self, RunContext};
use crate::git;
use crate::metadata::RunStatus;
use crate::plan::{self, PlanInput};
use crate::project::load::ColumnAnalysis;
use crate::project::{self, diagnostic, Node, TableName};
use crate::time::{format_ts, Duration, Interval, Timestamp};
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

pub fn ci_command(
    g: &Global,
    base: &str,
    head: Option<&str>,
    last: &str,
    report_file: Option<&Path>,
    cleanup: Option<&str>,
) -> Result<Outcome> {
    let now = super::now(g)?;
    let last = Duration::parse(last).map_err(|e| anyhow!("--last: {e}"))?;
    let head_global = Global {
        rev: head.map(str::to_string),
        ..g.clone()
    };
    let mut head_loaded = load(&head_global)?;
    let head_label = head_loaded
        .git_commit
        .as_deref()
        .map_or("working tree".to_string(), |c| {
            c[..7.min(c.len())].to_string()
        });
    let base_revision = git::at_revision(&g.project, base)?;
    let shadow_env = format!(
        "shadow_{}",
        head_loaded
            .git_commit
            .as_deref()
            .map_or("worktree", |c| &c[..7.min(c.len())])
    );
    let mut notes = String::new();
    if let Some(age) = cleanup {
        let age = Duration::parse(age).map_err(|e| anyhow!("--cleanup: {e}"))?;
        let _ = writeln!(
            notes,
            "{}",
            cleanup_shadows(&head_loaded.project, age, now)?
        );
    }
    if head_loaded.project.has_errors() {
        let errors: Vec<_> = head_loaded.project.errors().cloned().collect();
        let text = diagnostic::render_text(
            &errors,
            &head_loaded.project.files,
            &head_loaded.project.root,
        );
        let changes = ci::Changes::default();
        let report = Report {
            base,
            head: &head_label,
            shadow_env: &shadow_env,
            validation: Some(text),
            changes: &changes,
            built: Vec::new(),
            blocked: Vec::new(),
            diffs: Vec::new(),
        };
        return finish(ci::render(&report), notes, report_file, 1);
    }
    let base_project = with_dag(
        project::load::load_from(&g.project, &base_revision.files),
        None,
        ColumnAnalysis::WhenGuarded,
    )
    .project;
    let changes = ci::changes(&base_project, &head_loaded.project, &head_loaded.dag);
    let mut report = Report {
        base,
        head: &head_label,
        shadow_env: &shadow_env,
        validation: None,
        changes: &changes,
        built: Vec::new(),
        blocked: Vec::new(),
        diffs: Vec::new(),
    };
    if changes.to_build.is_empty() {
        return finish(ci::render(&report), notes, report_file, 0);
    }
    let since = recent_start(&mut head_loaded, &changes.to_build, now, last);
    let failed = shadow_build(
        &head_loaded,
        &changes.to_build,
        &shadow_env,
        now,
        &mut report,
    )?;
    let stores = open_stores(&head_loaded.project)?;
    for name in changes.added.iter().chain(&changes.modified) {
        let table = head_loaded
            .project
            .table(name)
            .expect("changed tables exist");
        if report
            .built
            .iter()
            .any(|b| b.table == name.as_str() && b.failed.is_none())
        {
            let range = Interval::new(since.get(name).copied().unwrap_or(table.start), now);
            report.diffs.push(
                ci::diff(stores.warehouse.as_ref(), table, &shadow_env, range)
                    .map_err(|e| anyhow!(e))?,
            );
        }
    }
    finish(ci::render(&report), notes, report_file, u8::from(failed))
}

fn finish(report: String, notes: String, file: Option<&Path>, code: u8) -> Result<Outcome> {
    if let Some(file) = file {
        std::fs::write(file, &report)
            .with_context(|| format!("cannot write the report to {}", file.display()))?;
    }
    Ok(Outcome {
        stdout: notes + &report,
        code,
    })
}

/// Starts every table to build at the beginning of the `last` window, so CI builds
/// recent data only; returns the new starts.
fn recent_start(
    loaded: &mut Loaded,
    to_build: &BTreeSet<TableName>,
    now: Timestamp,
    last: Duration,
) -> std::collections::HashMap<TableName, Timestamp> {
    let mut starts = std::collections::HashMap::new();
    for node in &mut loaded.project.nodes {
        if let Node::Table(t) = node {
            if to_build.contains(&t.name) {
                t.start = t.start.max(t.schedule.floor(now - last.chrono()));
                starts.insert(t.name.clone(), t.start);
            }
        }
    }
    starts
}

/// Builds `to_build` into `shadow_env`, reading every other table from production.
fn shadow_build(
    loaded: &Loaded,
    to_build: &BTreeSet<TableName>,
    shadow_env: &str,
    now: Timestamp,
    report: &mut Report,
) -> Result<bool> {
    let stores = open_stores(&loaded.project)?;
    let sources: Vec<_> = loaded.project.sources().collect();
    stores
        .warehouse
        .prepare_sources(&sources, &loaded.project.root)?;
    let watermarks = exec::source_watermarks(
        &loaded.project,
        stores.warehouse.as_ref(),
        stores.metadata.as_ref(),
        now,
    )?;
    let slack = super::longest_input(&loaded.project);
    let mut snapshot = stores.metadata.snapshot(shadow_env, slack)?;
    let prod = stores.metadata.snapshot("prod", slack)?;
    for (name, log) in prod.tables {
        if !to_build.contains(&name) {
            snapshot.tables.insert(name, log);
        }
    }
    let planned = plan::plan(&PlanInput {
        project: &loaded.project,
        dag: &loaded.dag,
        log: &snapshot,
        source_watermarks: &watermarks,
        now,
        selection: Some(to_build),
        retry_failed: true,
        request: None,
    });
    let progress = progress::for_terminal(&planned);
    let ctx = RunContext {
        project: &loaded.project,
        dag: &loaded.dag,
        warehouse: stores.warehouse.as_ref(),
        metadata: stores.metadata.as_ref(),
        env: shadow_env,
        as_of: now,
        triggered_by: "ci",
        git_commit: loaded.git_commit.as_deref(),
        threads: default_threads(),
        progress: progress.as_ref(),
        env_tables: Some(to_build),
        stop: None,
    };
    let result = exec::execute(&ctx, &planned, &snapshot);
    drop(progress);
    for name in to_build {
        let runs: Vec<_> = result
            .runs
            .iter()
            .filter(|r| r.table == name.as_str())
            .collect();
        if runs.is_empty() {
            if result.blocked.iter().any(|b| &b.table == name) {
                report.blocked.push(name.to_string());
            }
            continue;
        }
        report.built.push(Built {
            table: name.to_string(),
            runs: runs.len(),
            rows: runs.iter().filter_map(|r| r.rows_written).sum(),
            failed: runs
                .iter()
                .find(|r| r.status == RunStatus::Failed)
                .and_then(|r| r.error.clone()),
            warnings: runs
                .iter()
                .flat_map(|r| r.warnings.iter().cloned())
                .collect(),
        });
    }
    Ok(result.failed > 0 || result.setup_error.is_some())
}

/// Drops shadow environments whose latest run is older than `age`.
fn cleanup_shadows(project: &project::Project, age: Duration, now: Timestamp) -> Result<String> {
    let stores = open_stores(project)?;
    let mut dropped = Vec::new();
    for (env, latest) in stores.metadata.environments()? {
        if env.starts_with("shadow_") && now - latest > age.chrono() {
            stores.warehouse.drop_env(&env)?;
            dropped.push(env);
        }
    }
    Ok(format!(
        "cleanup: dropped {} shadow environment(s){}",
        dropped.len(),
        if dropped.is_empty() {
            String::new()
        } else {
            format!(": {}", dropped.join(", "))
        }
    ))
}

pub fn history_command(g: &Global, table: &str) -> Result<Outcome> {
    let loaded = load(g)?;
    let name = TableName::parse(table).map_err(|e| anyhow!(e))?;
    let (name, file) = loaded
        .project
        .get(&name)
        .map(|n| (n.name().clone(), n.file().clone()))
        .ok_or_else(|| anyhow!("no table is named `{table}`"))?;
    let commits = git::file_history(&g.project, &file, 50)?;
    let stores = open_stores(&loaded.project)?;
    let runs = stores
        .metadata
        .log(&g.env, Some(name.as_str()), None, 100_000)?;
    let mut rows = Vec::new();
    let mut fingerprints = Vec::new();
    for c in &commits {
        let revision = git::at_revision(&g.project, &c.commit)?;
        let project = project::load::load_from(&g.project, &revision.files);
        fingerprints.push(project.table(&name).map(|t| t.fingerprint.clone()));
    }
    for (i, c) in commits.iter().enumerate() {
        let fingerprint = fingerprints[i].clone();
        let changed = fingerprints
            .get(i + 1)
            .is_none_or(|older| *older != fingerprint);
        let caused: Vec<_> = runs
            .iter()
            .filter(|r| {
                Some(&r.fingerprint) == fingerprint.as_ref()
                    && r.git_commit.as_deref().is_none_or(|gc| gc == c.commit)
            })
            .collect();
        rows.push(serde_json::json!({
            "commit": c.commit,
            "author": c.author,
            "date": format_ts(c.time),
            "message": c.message,
            "fingerprint": fingerprint,
            "fingerprint_changed": changed,
            "runs": caused.len(),
            "succeeded": caused.iter().filter(|r| r.status == RunStatus::Success).count(),
            "first_run_at": caused.iter().map(|r| r.started_at).min().map(format_ts),
        }));
    }
    let stdout = if g.format == Format::Json {
        serde_json::to_string_pretty(&serde_json::json!({ "table": table, "commits": rows }))?
            + "\n"
    } else {
        let mut out = String::new();
        for r in &rows {
            let _ = writeln!(
                out,
                "{} {} {:<16} {}{}  runs={} ({} ok)",
                &r["commit"].as_str().unwrap_or_default()[..7],
                r["date"].as_str().unwrap_or_default(),
                r["author"].as_str().unwrap_or_default(),
                r["message"].as_str().unwrap_or_default(),
                if r["fingerprint_changed"] == true {
                    "  [data changed]"
                } else {
                    ""
                },
                r["runs"],
                r["succeeded"]
            );
        }
        out
    };
    Ok(Outcome::ok(stdout))
}
