//! `derived check`: every table's checks on its current data, for its latest
//! complete interval.

use super::{Loaded, Settings, Stores};
use crate::env::PhysicalName;
use crate::exec;
use crate::project::checks::{CheckOutcome, CheckSeverity};
use crate::project::template::RenderContext;
use crate::project::TableName;
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::collections::BTreeSet;

/// What the checks of one table found, or why they could not run.
#[derive(Serialize)]
pub struct CheckReport {
    pub table: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub checks: Vec<CheckOutcome>,
}

impl CheckReport {
    /// Could not run, or an `error` check found rows.
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .checks
                .iter()
                .any(|c| !c.passed() && c.severity == CheckSeverity::Error)
    }
}

pub fn check_tables(
    settings: &Settings,
    loaded: &Loaded,
    stores: &Stores,
    selected: Option<&BTreeSet<TableName>>,
) -> Result<Vec<CheckReport>> {
    let now = settings.now();
    let mut results = Vec::new();
    for table in loaded.project.tables() {
        if selected.is_some_and(|s| !s.contains(&table.name)) || table.checks.is_empty() {
            continue;
        }
        let target = PhysicalName::of(&table.name, &settings.env);
        if !stores.warehouse()?.table_exists(&target)? {
            results.push(CheckReport {
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
        let this = stores.warehouse()?.dialect().table(&target);
        let render = RenderContext {
            input: table.input_range(interval),
            interval,
            this: &this,
            env: settings.env.name(),
            is_first_build: false,
            rows: None,
        };
        let prepared = exec::prepare_checks(&loaded.project, table, &settings.env, &render)
            .map_err(|e| anyhow!(e))?;
        results.push(match stores.warehouse()?.check(&target, &prepared) {
            Ok(checks) => CheckReport {
                table: table.name.to_string(),
                error: None,
                checks,
            },
            Err(e) => CheckReport {
                table: table.name.to_string(),
                error: Some(e.message),
                checks: Vec::new(),
            },
        });
    }
    Ok(results)
}
