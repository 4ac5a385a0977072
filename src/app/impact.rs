//! Change impact (SPEC §10.3): which columns each definition change touched,
//! from the column fingerprints the log kept of the definition that built the
//! table, and which columns each reader reads, from its column lineage. The
//! planner decides from these which readers to repair.

use super::Stores;
use crate::exec;
use crate::lineage;
use crate::metadata::LogSnapshot;
use crate::plan::{ChangeImpact, Plan};
use crate::project::columns::{column_lineage, ColumnLineage, SourceColumn};
use crate::project::impact::{changed_columns, is_column, retyped, STAR};
use crate::project::yaml::Reader;
use crate::project::{
    Diagnostic, MetadataConfig, OnChange, Project, Table, TableName, WarehouseConfig,
};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// None when nothing changed and no logged rewrite is limited to some columns:
/// then there is nothing to work out.
pub fn change_impact(project: &Project, log: &LogSnapshot) -> Option<ChangeImpact> {
    let mut impact = ChangeImpact::default();
    // Per changed table, the columns its old definition produced, when a
    // column went away: a `*` reader read it then, and no longer can.
    let mut before_removal: HashMap<TableName, Vec<String>> = HashMap::new();
    for table in project.tables() {
        let Some(table_log) = log.tables.get(&table.name) else {
            continue;
        };
        if table_log
            .last_success
            .as_ref()
            .is_none_or(|a| a.fingerprint == table.fingerprint)
        {
            continue;
        }
        let changed = match (
            table_log.column_fingerprints.as_ref(),
            project.column_fingerprints(table),
        ) {
            (None, _) => Err("the log keeps no columns of the definition that built it".into()),
            (_, None) => Err("its SQL cannot be compared column by column".into()),
            (Some(old), Some(new)) => {
                let produced = |m: &BTreeMap<String, String>| -> Vec<String> {
                    m.keys().filter(|c| is_column(c)).cloned().collect()
                };
                if produced(old).iter().any(|c| !new.contains_key(c)) && !old.contains_key(STAR) {
                    before_removal.insert(table.name.clone(), produced(old));
                }
                changed_columns(old, &new).ok_or_else(|| {
                    "its rows changed: source, filter, join, grouping or settings".into()
                })
            }
        };
        impact.changed.insert(table.name.clone(), changed);
    }
    let rewritten: BTreeSet<&TableName> = impact
        .changed
        .keys()
        .chain(
            log.rewrites
                .iter()
                .filter(|w| w.columns.is_some())
                .map(|w| &w.table),
        )
        .collect();
    if rewritten.is_empty() {
        return None;
    }
    let readers: BTreeSet<TableName> = project
        .tables()
        .filter(|t| t.upstreams.iter().any(|u| rewritten.contains(u)))
        .map(|t| t.name.clone())
        .collect();
    let lineages = lineage::columns_of_tables(project, &readers);
    for reader in project.tables().filter(|t| readers.contains(&t.name)) {
        let Some(lineage) = lineages.get(&reader.name) else {
            continue;
        };
        for upstream in reader.upstreams.iter().filter(|u| rewritten.contains(u)) {
            let Some(mut read) = columns_read(lineage, |c| c.table == upstream.as_str()) else {
                continue;
            };
            if let Some(old) = before_removal.get(upstream) {
                match read_before(project, reader, upstream, old) {
                    Some(before) => read.extend(before),
                    None => continue,
                }
            }
            impact
                .reads
                .insert((reader.name.clone(), upstream.clone()), read);
        }
    }
    Some(impact)
}

/// What `reader` read of `upstream` when `upstream` produced `old_columns`:
/// a `*` over it read every one of them.
fn read_before(
    project: &Project,
    reader: &Table,
    upstream: &TableName,
    old_columns: &[String],
) -> Option<BTreeSet<String>> {
    let sql = project.representative_sql(reader)?;
    let none = HashMap::new();
    let columns_of = |written: &str| {
        let name = project.resolve_reference(written)?;
        if name == upstream {
            Some(old_columns.to_vec())
        } else {
            lineage::known_columns_of(project, &none, name)
        }
    };
    let lineage = column_lineage(
        &sql,
        project.config.dialect,
        project.config.default_project(),
        &columns_of,
    );
    columns_read(&lineage, |c| {
        project.resolve_reference(&c.table) == Some(upstream)
    })
}

/// The columns of the upstream (`of_upstream`) a query selects, filters, joins, groups or orders
/// by (lower case); None unless its lineage is exact.
fn columns_read(
    lineage: &ColumnLineage,
    of_upstream: impl Fn(&SourceColumn) -> bool,
) -> Option<BTreeSet<String>> {
    if !lineage.gaps.is_empty() || !lineage.columns_complete {
        return None;
    }
    Some(
        lineage
            .columns
            .iter()
            .flat_map(|c| c.computed_from.iter().map(|d| &d.source))
            .chain(&lineage.influences)
            .filter(|c| of_upstream(c))
            .map(|c| c.column.to_lowercase())
            .collect(),
    )
}

/// Per action of the plan, the bytes its queries would read by dry run (None:
/// the warehouse cannot tell, as only BigQuery can).
pub fn estimate_bytes(project: &Project, stores: &Stores, plan: &Plan) -> Result<Vec<Option<u64>>> {
    use rayon::prelude::*;
    let bigquery = matches!(project.config.warehouse, WarehouseConfig::BigQuery { .. });
    if !bigquery || plan.actions.is_empty() {
        return Ok(vec![None; plan.actions.len()]);
    }
    let warehouse = stores.warehouse()?;
    Ok(plan
        .actions
        .par_iter()
        .map(|action| exec::estimate_bytes(project, warehouse, action))
        .collect())
}

/// The plan's bytes, when every action's are known.
pub fn total_bytes(estimates: &[Option<u64>]) -> Option<u64> {
    estimates.iter().copied().sum()
}

/// Tables under `on_change: forward` whose new definition drops or retypes a
/// column the built intervals hold: their rows would silently lose it or mix
/// types, so nothing runs until the definition keeps it or rebuilds (SPEC
/// §10.3). Errors at the table's `on_change` key.
pub fn forward_refusals(project: &Project, log: &LogSnapshot) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for table in project
        .tables()
        .filter(|t| t.on_change == OnChange::Forward)
    {
        let Some(table_log) = log.tables.get(&table.name) else {
            continue;
        };
        let changed = table_log
            .last_success
            .as_ref()
            .is_some_and(|a| a.fingerprint != table.fingerprint);
        let (Some(old), Some(new)) = (
            table_log.column_fingerprints.as_ref().filter(|_| changed),
            project.column_fingerprints(table),
        ) else {
            continue;
        };
        let text = project.files.text(&table.file).unwrap_or_default();
        let reader = Reader::new(&table.file, text);
        let at = reader.key_span(reader.whole(), "on_change");
        let refuse = |code, message: String, help: &str| {
            Diagnostic::error(code, &table.file, at.clone(), message)
                .with_help(format!(
                    "{help}, or remove `on_change: forward` to rebuild from start"
                ))
                .for_table(table.name.as_str())
        };
        // Under `*` the columns have no names here: only declared types are compared.
        let stars = old.contains_key(STAR) || new.contains_key(STAR);
        let dropped: Vec<&str> = old
            .keys()
            .filter(|c| !stars && is_column(c) && !new.contains_key(*c))
            .map(String::as_str)
            .collect();
        if !dropped.is_empty() {
            out.push(refuse(
                "forward-drops-column",
                format!(
                    "`{}` has `on_change: forward`, and its new definition drops column(s) {} that its built intervals hold",
                    table.name,
                    dropped.join(", ")
                ),
                &format!("keep them (e.g. `NULL AS {}`)", dropped[0]),
            ));
        }
        let retypes: Vec<String> = retyped(old, &new)
            .into_iter()
            .map(|(column, was, now)| format!("{column} ({was} → {now})"))
            .collect();
        if !retypes.is_empty() {
            out.push(refuse(
                "forward-retypes-column",
                format!(
                    "`{}` has `on_change: forward`, and its new definition retypes column(s) {} that its built intervals hold",
                    table.name,
                    retypes.join(", ")
                ),
                "keep the old type (cast in the SQL)",
            ));
        }
    }
    out
}

/// What `validate` says of forward changes: the refusals, read from the
/// production log when it exists (validate never creates one); a warning at
/// each forward table when the log cannot be read.
pub fn forward_diagnostics(project: &Project) -> Vec<Diagnostic> {
    let forward: Vec<&Table> = project
        .tables()
        .filter(|t| t.on_change == OnChange::Forward)
        .collect();
    if forward.is_empty() {
        return Vec::new();
    }
    if let MetadataConfig::DuckDb { path } = &project.config.metadata {
        if !path.exists() && std::env::var_os("DERIVED_METADATA_URL").is_none() {
            return Vec::new();
        }
    }
    let snapshot = super::open_metadata(&project.config.metadata).and_then(|store| {
        Ok(store.snapshot(crate::env::Env::Prod.name(), super::longest_input(project))?)
    });
    match snapshot {
        Ok(log) => forward_refusals(project, &log),
        Err(e) => forward
            .iter()
            .map(|t| {
                let text = project.files.text(&t.file).unwrap_or_default();
                let reader = Reader::new(&t.file, text);
                Diagnostic::warning(
                    "forward-unchecked",
                    &t.file,
                    reader.key_span(reader.whole(), "on_change"),
                    format!(
                        "could not read the log to check what this forward change keeps: {e:#}"
                    ),
                )
                .for_table(t.name.as_str())
            })
            .collect(),
    }
}
