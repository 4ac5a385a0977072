//! The situation a plan is made from, read at one moment: the log's snapshot
//! and how complete every source is.

use super::{Loaded, Settings, Stores};
use crate::exec;
use crate::metadata::LogSnapshot;
use crate::plan::{self, Plan, PlanInput, Request};
use crate::project::{Freshness, Project, TableName};
use crate::time::Timestamp;
use anyhow::Result;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Everything a plan is made from, and the plan.
pub struct Situation {
    pub snapshot: Arc<LogSnapshot>,
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

/// How complete every source is now. The warehouse is opened only for a
/// source whose completeness is its data's latest time.
pub fn source_watermarks(
    loaded: &Loaded,
    stores: &Stores,
    now: Timestamp,
) -> Result<HashMap<TableName, Timestamp>> {
    let project = &loaded.project;
    let marks = stores.metadata.source_marks()?;
    let reads_data = project
        .sources()
        .any(|s| matches!(s.freshness, Freshness::MaxTime { .. }));
    let warehouse = if reads_data {
        Some(stores.warehouse()?)
    } else {
        None
    };
    exec::source_watermarks(project, warehouse, &marks, now)
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
    let snapshot = stores.log(settings.env.name(), longest_input(&loaded.project))?;
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
