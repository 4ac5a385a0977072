//! Running what is due: plan, run, and plan again until nothing new can run.

use super::{
    default_threads, situation_given, source_watermarks, user, Loaded, Scope, Settings, Stores,
};
use crate::exec::{self, Progress, RunContext, RunReport};
use crate::plan::Plan;
use crate::project::TableName;
use anyhow::Result;
use std::collections::BTreeSet;

/// How a run shows its progress: made fresh for each round's plan.
pub type ProgressFor<'a> = &'a dyn Fn(&Plan) -> Box<dyn Progress>;

/// Closes the runs a stopped process left `running`; how many.
pub fn recover(settings: &Settings, stores: &Stores) -> Result<usize> {
    exec::recover_abandoned(
        stores.metadata.as_ref(),
        || stores.warehouse(),
        settings.env.name(),
    )
}

/// Plans, runs, and plans again for the tables that have not run yet: a table
/// that failed blocks its downstream in the plan (as `plan` shows it), and the
/// downstream of a retry that succeeded still runs in this command.
pub fn run(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    scope: Scope,
    threads: Option<usize>,
    progress: ProgressFor,
) -> Result<RunReport> {
    let now = settings.now();
    let user = user();
    // Looking at the working tree costs more than a run with nothing to do.
    let git_commit = std::cell::OnceCell::new();
    let everything: BTreeSet<TableName>;
    let wanted = match scope.selection {
        Some(selection) => selection,
        None => {
            everything = loaded.project.tables().map(|t| t.name.clone()).collect();
            &everything
        }
    };
    let mut report = RunReport::default();
    let mut ran: BTreeSet<TableName> = BTreeSet::new();
    let watermarks = source_watermarks(loaded, stores, now)?;
    loop {
        let allowed: BTreeSet<TableName> = wanted.difference(&ran).cloned().collect();
        let scope = Scope {
            selection: Some(&allowed),
            ..scope
        };
        let s = situation_given(settings, loaded, stores, now, scope, &watermarks)?;
        if s.plan.actions.is_empty() {
            report.blocked = s.plan.blocked;
            break;
        }
        let progress = progress(&s.plan);
        let ctx = RunContext {
            project: &loaded.project,
            dag: &loaded.dag,
            warehouse: stores.warehouse()?,
            metadata: stores.metadata.as_ref(),
            env: &settings.env,
            as_of: now,
            triggered_by: &user,
            git_commit: git_commit
                .get_or_init(|| loaded.commit_of_runs(settings))
                .as_deref(),
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
    Ok(report)
}
