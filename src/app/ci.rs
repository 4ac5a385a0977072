//! `derived ci` and `derived history`: changes between revisions, shadow builds
//! on production data, and a definition's commits next to its runs.

use super::run::ProgressFor;
use super::{
    default_threads, longest_input, open_stores, source_watermarks, Loaded, Settings, Stores,
};
use crate::ci::{self, Built, Planned, Report};
use crate::env::Env;
use crate::exec::{self, RunContext};
use crate::git;
use crate::metadata::RunStatus;
use crate::plan::{self, PlanInput};
use crate::project::load::ColumnAnalysis;
use crate::project::{self, diagnostic, Node, Project, TableName};
use crate::time::{Duration, Interval, Timestamp};
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// What `derived ci` found: a Markdown report for the pull request.
pub struct CiOutcome {
    pub markdown: String,
    /// Shadow environments dropped by `--cleanup`.
    pub dropped: Option<Vec<String>>,
    /// Validation failed, or a shadow build did.
    pub failed: bool,
}

pub struct CiOptions<'a> {
    /// The revision the change is compared with.
    pub base: &'a str,
    /// How much recent data the shadow build covers.
    pub last: Duration,
    /// Drop shadow environments whose latest run is older than this.
    pub cleanup: Option<Duration>,
}

/// Compares the head (the settings' revision) with `base`, builds what changed
/// into a shadow environment on production data, and diffs it with production.
pub fn ci(settings: &Settings, options: &CiOptions, progress: ProgressFor) -> Result<CiOutcome> {
    let now = settings.now();
    let mut head = super::load(settings, ColumnAnalysis::WhenGuarded)?;
    let head_label = head
        .git_commit
        .as_deref()
        .map_or("working tree".to_string(), |c| {
            c[..7.min(c.len())].to_string()
        });
    let base_revision = git::at_revision(&settings.project, options.base)?;
    let shadow_env = Env::shadow(head.git_commit.as_deref());
    let dropped = options
        .cleanup
        .map(|age| cleanup_shadows(&head.project, age, now))
        .transpose()?;
    let mut report = Report {
        base: options.base,
        head: &head_label,
        shadow_env: &shadow_env,
        validation: None,
        changes: &ci::Changes::default(),
        tests: Vec::new(),
        built: Vec::new(),
        blocked: Vec::new(),
        diffs: Vec::new(),
        impact: Vec::new(),
    };
    if head.project.has_errors() {
        let errors: Vec<_> = head.project.errors().cloned().collect();
        report.validation = Some(diagnostic::render_text(
            &errors,
            &head.project.files,
            &head.project.root,
        ));
        return Ok(CiOutcome {
            markdown: ci::render(&report),
            dropped,
            failed: true,
        });
    }
    let base_project = super::with_dag(
        project::load::load_from(&settings.project, &base_revision.files),
        None,
        ColumnAnalysis::WhenGuarded,
    )
    .project;
    let changes = ci::changes(&base_project, &head.project, &head.dag);
    report.changes = &changes;
    report.tests = super::testing::test_tables(&head, Some(&changes.to_test))?;
    if report.tests.iter().any(|t| !t.passed()) {
        return Ok(CiOutcome {
            markdown: ci::render(&report),
            dropped,
            failed: true,
        });
    }
    if changes.to_build.is_empty() {
        return Ok(CiOutcome {
            markdown: ci::render(&report),
            dropped,
            failed: false,
        });
    }
    let stores = open_stores(&head.project)?;
    let watermarks = source_watermarks(&head, &stores, now)?;
    report.impact = production_impact(&head, &stores, &watermarks, now)?;
    let since = recent_start(&mut head, &changes.to_build, now, options.last);
    let failed = shadow_build(
        &head,
        &stores,
        &watermarks,
        &changes.to_build,
        &shadow_env,
        now,
        progress,
        &mut report,
    )?;
    for name in changes.added.iter().chain(&changes.modified) {
        let table = head.project.table(name).expect("changed tables exist");
        let built = report
            .built
            .iter()
            .any(|b| b.table == name.as_str() && b.failed.is_none());
        if built {
            let start = since.get(name).copied().unwrap_or(table.start);
            let range = Interval::new(start, now);
            let diff =
                ci::diff(stores.warehouse()?, table, &shadow_env, range).map_err(|e| anyhow!(e))?;
            report.diffs.push(diff);
        }
    }
    Ok(CiOutcome {
        markdown: ci::render(&report),
        dropped,
        failed,
    })
}

/// Starts every table to build at the beginning of the `last` window, so CI builds
/// recent data only; returns the new starts.
fn recent_start(
    loaded: &mut Loaded,
    to_build: &BTreeSet<TableName>,
    now: Timestamp,
    last: Duration,
) -> HashMap<TableName, Timestamp> {
    let mut starts = HashMap::new();
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

/// Builds `to_build` into `shadow_env`, reading every other table from
/// production: the shadow log starts from production's for every table it
/// does not build. True when a build failed.
#[allow(clippy::too_many_arguments)]
fn shadow_build(
    loaded: &Loaded,
    stores: &Stores,
    watermarks: &HashMap<TableName, Timestamp>,
    to_build: &BTreeSet<TableName>,
    shadow_env: &Env,
    now: Timestamp,
    progress: ProgressFor,
    report: &mut Report,
) -> Result<bool> {
    let slack = longest_input(&loaded.project);
    let mut snapshot = stores.metadata.snapshot(shadow_env.name(), slack)?;
    let prod = stores.metadata.snapshot(Env::Prod.name(), slack)?;
    for (name, log) in prod.tables {
        if !to_build.contains(&name) {
            snapshot.tables.insert(name, log);
        }
    }
    let impact = super::impact::change_impact(&loaded.project, &snapshot);
    let planned = plan::plan(&PlanInput {
        project: &loaded.project,
        dag: &loaded.dag,
        log: &snapshot,
        source_watermarks: watermarks,
        now,
        selection: Some(to_build),
        retry_failed: true,
        request: None,
        impact: impact.as_ref(),
    });
    let progress = progress(&planned);
    let ctx = RunContext {
        project: &loaded.project,
        dag: &loaded.dag,
        warehouse: stores.warehouse()?,
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

/// What the head definitions would run in production, planned from the
/// production log: the change's impact once merged.
fn production_impact(
    loaded: &Loaded,
    stores: &Stores,
    watermarks: &HashMap<TableName, Timestamp>,
    now: Timestamp,
) -> Result<Vec<Planned>> {
    let prod = stores
        .metadata
        .snapshot(Env::Prod.name(), longest_input(&loaded.project))?;
    let impact = super::impact::change_impact(&loaded.project, &prod);
    let planned = plan::plan(&PlanInput {
        project: &loaded.project,
        dag: &loaded.dag,
        log: &prod,
        source_watermarks: watermarks,
        now,
        selection: None,
        retry_failed: true,
        request: None,
        impact: impact.as_ref(),
    });
    Ok(planned
        .actions
        .iter()
        .map(|a| Planned {
            table: a.table.to_string(),
            action: a.kind.name(),
            intervals: loaded
                .project
                .table(&a.table)
                .map_or(a.batches.len(), |t| a.intervals(t)),
            reason: a.reason.clone(),
        })
        .collect())
}

/// Drops shadow environments whose latest run is older than `age`; their names.
fn cleanup_shadows(project: &Project, age: Duration, now: Timestamp) -> Result<Vec<String>> {
    let stores = open_stores(project)?;
    let mut dropped = Vec::new();
    for (name, latest) in stores.metadata.environments()? {
        if Env::is_shadow(&name) && now - latest > age.chrono() {
            let env = Env::parse(&name).map_err(|e| anyhow!(e))?;
            stores.warehouse()?.drop_env(&env)?;
            dropped.push(name);
        }
    }
    Ok(dropped)
}

/// One commit that touched a definition, and the runs its version caused.
#[derive(Serialize)]
pub struct CommitRuns {
    pub commit: String,
    pub author: String,
    #[serde(with = "crate::time::serde_ts")]
    pub date: Timestamp,
    pub message: String,
    pub fingerprint: Option<String>,
    pub fingerprint_changed: bool,
    pub runs: usize,
    pub succeeded: usize,
    #[serde(with = "crate::time::serde_opt_ts")]
    pub first_run_at: Option<Timestamp>,
}

/// The last 50 commits of a table's definition, newest first, with the runs
/// each version caused.
pub fn history(settings: &Settings, table: &str) -> Result<Vec<CommitRuns>> {
    let loaded = super::load(settings, ColumnAnalysis::WhenGuarded)?;
    let name = loaded.known_name(table)?;
    let file = loaded.project.get(&name).expect("known").file().clone();
    let commits = git::file_history(&settings.project, &file, 50)?;
    let stores = open_stores(&loaded.project)?;
    let runs = stores
        .metadata
        .log(settings.env.name(), Some(name.as_str()), None, 100_000)?;
    let mut fingerprints = Vec::new();
    for c in &commits {
        let revision = git::at_revision(&settings.project, &c.commit)?;
        let project = project::load::load_from(&settings.project, &revision.files);
        fingerprints.push(project.table(&name).map(|t| t.fingerprint.clone()));
    }
    let mut rows = Vec::new();
    for (i, c) in commits.iter().enumerate() {
        let fingerprint = fingerprints[i].clone();
        let fingerprint_changed = fingerprints
            .get(i + 1)
            .is_none_or(|older| *older != fingerprint);
        let caused: Vec<_> = runs
            .iter()
            .filter(|r| {
                Some(&r.fingerprint) == fingerprint.as_ref()
                    && r.git_commit.as_deref().is_none_or(|gc| gc == c.commit)
            })
            .collect();
        rows.push(CommitRuns {
            commit: c.commit.clone(),
            author: c.author.clone(),
            date: c.time,
            message: c.message.clone(),
            fingerprint,
            fingerprint_changed,
            runs: caused.len(),
            succeeded: caused
                .iter()
                .filter(|r| r.status == RunStatus::Success)
                .count(),
            first_run_at: caused.iter().map(|r| r.started_at).min(),
        });
    }
    Ok(rows)
}
