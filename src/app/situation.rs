//! The situation a plan is made from, read at one moment: the log's snapshot
//! and how complete every source is.

use super::{Loaded, Settings, Stores};
use crate::exec;
use crate::metadata::LogSnapshot;
use crate::plan::{self, Plan, PlanInput, Request};
use crate::project::{Project, TableName};
use crate::time::Timestamp;
use anyhow::Result;
use std::collections::{BTreeSet, HashMap};

/// Everything a plan is made from, and the plan.
pub struct Situation {
    pub snapshot: LogSnapshot,
    pub plan: Plan,
}

/// What to plan for: everything, a selection, or a person's request.
#[derive(Clone, Copy, Default)]
pub struct Scope<'a> {
    pub selection: Option<&'a BTreeSet<TableName>>,
    pub request: Option<&'a Request>,
    /// Failed tables wait instead of being retried now (a worker between retries).
    pub hold_failed: bool,
}

pub fn situation(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    now: Timestamp,
    scope: Scope,
) -> Result<Situation> {
    let watermarks = source_watermarks(loaded, stores, now)?;
    situation_given(settings, loaded, stores, now, scope, &watermarks)
}

/// How complete every source is now (its files readable first).
pub fn source_watermarks(
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
pub fn situation_given(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    now: Timestamp,
    scope: Scope,
    watermarks: &HashMap<TableName, Timestamp>,
) -> Result<Situation> {
    let snapshot = stores
        .metadata
        .snapshot(settings.env.name(), longest_input(&loaded.project))?;
    let refusals = super::impact::forward_refusals(&loaded.project, &snapshot);
    if !refusals.is_empty() {
        let project = &loaded.project;
        anyhow::bail!(
            "{}",
            crate::project::diagnostic::render_text(&refusals, &project.files, &project.root)
        );
    }
    let impact = super::impact::change_impact(&loaded.project, &snapshot);
    let plan = plan::plan(&PlanInput {
        project: &loaded.project,
        dag: &loaded.dag,
        log: &snapshot,
        source_watermarks: watermarks,
        now,
        selection: scope.selection,
        retry_failed: !scope.hold_failed,
        request: scope.request,
        impact: impact.as_ref(),
    });
    Ok(Situation { snapshot, plan })
}

/// The longest input range any table reads (its window, or its period).
pub fn longest_input(project: &Project) -> crate::time::Duration {
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
