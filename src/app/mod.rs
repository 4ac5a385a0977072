//! The application: what every command does, as library functions over
//! [`Settings`] that return data. The CLI parses flags into `Settings` once and
//! renders what these return; tests and benches call them directly.
//!
//! What never changes: reading (`plan`, `status`, `dag`) never writes to the
//! log or the warehouse; only running, pausing and marking do.

pub mod cache;
pub mod checks;
pub mod ci;
mod impact;
mod ingesting;
mod loaded;
mod log_cache;
pub mod run;
mod settings;
mod situation;
pub mod status;
mod stores;
pub mod testing;
pub mod worker;

pub use impact::{estimate_bytes, forward_diagnostics, total_bytes};
pub use loaded::{load, load_valid, load_valid_with_stores, with_dag, Loaded};
pub use settings::Settings;
pub use situation::{
    longest_input, situation, situation_given, source_watermarks, Scope, Situation,
};
pub use stores::{open_metadata, open_stores, open_warehouse, Stores};

use crate::metadata::Pause;
use crate::project::TableName;
use crate::time::Timestamp;
use anyhow::{anyhow, bail, Result};

/// Who is acting, for the log's `triggered_by` (`DERIVED_USER`, else `USER`).
pub fn user() -> String {
    std::env::var("DERIVED_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "user".into())
}

/// Concurrent runs by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// What `pause` or `resume` did.
pub struct PauseChange {
    pub table: TableName,
    pub paused: bool,
    pub by: String,
    /// Tables held with it (downstream), when pausing.
    pub downstream_held: usize,
}

/// Pauses (or resumes) a table: a row in the log says who, when and why
/// (SPEC §10.2). Pausing a paused table, or resuming one that is not, fails.
pub fn pause(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    table: &str,
    paused: bool,
    reason: Option<&str>,
) -> Result<PauseChange> {
    let name = loaded.known_name(table)?;
    if loaded.project.table(&name).is_none() {
        bail!("`{name}` is a source; pause the tables that read it");
    }
    let log = stores.log(settings.env.name(), longest_input(&loaded.project))?;
    let current = log.tables.get(&name).and_then(|l| l.paused.as_ref());
    match (paused, current) {
        (true, Some(p)) => bail!("`{name}` is already paused ({})", describe(p)),
        (false, None) => bail!("`{name}` is not paused"),
        _ => {}
    }
    let by = user();
    crate::metadata::record_pause(
        stores.metadata.as_ref(),
        settings.env.name(),
        &name,
        paused,
        &by,
        reason,
        settings.now(),
    )?;
    let downstream_held = if paused {
        loaded.dag.all_downstream(&name).len()
    } else {
        0
    };
    Ok(PauseChange {
        table: name,
        paused,
        by,
        downstream_held,
    })
}

fn describe(pause: &Pause) -> String {
    let reason = pause
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "by {} at {}{reason}",
        pause.by,
        crate::time::format_ts(pause.at)
    )
}

/// Declares a source complete through `through` (SPEC §4): never backwards,
/// never past now.
pub fn mark_source(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    source: &str,
    through: Timestamp,
) -> Result<TableName> {
    let name = TableName::parse(source).map_err(|e| anyhow!(e))?;
    let Some(name) = loaded
        .project
        .get(&name)
        .and_then(|n| n.as_source())
        .map(|s| s.name.clone())
    else {
        bail!("`{source}` is not a source of this project");
    };
    let now = settings.now();
    if through > now {
        bail!(
            "cannot mark {source} complete through {} : that is after now ({})",
            crate::time::format_ts(through),
            crate::time::format_ts(now)
        );
    }
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
        .mark_source(settings.env.name(), &name, through, now, &user())?;
    Ok(name)
}
