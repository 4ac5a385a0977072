//! Lineage: table-level from the DAG, column-level from each table's SQL
//! (see [`columns`]), and run-level from the log's `upstream_runs`.

pub mod columns;

use crate::dag::Dag;
use crate::project::template::RenderContext;
use crate::project::{Project, Table, TableName};
use columns::{column_lineage, ColumnLineage, SourceColumn};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// The SQL of a table rendered for its first interval, as validation renders it.
pub fn representative_sql(project: &Project, table: &Table) -> Option<String> {
    let interval = table.schedule.interval_at(table.start);
    let ctx = RenderContext {
        input: table.input_range(interval),
        interval,
        this: table.name.as_str(),
        env: "prod",
        is_first_build: false,
        rows: None,
    };
    project.renderer.render(&table.sql, &ctx).ok()
}

/// Column lineage of every table, computed in parallel.
pub fn all_columns(project: &Project) -> HashMap<TableName, ColumnLineage> {
    let columns_of = |name: &str| -> Option<Vec<String>> {
        let node = project.get(&TableName::from_reference(name))?;
        let declared: Vec<String> = node.columns().iter().map(|c| c.name.clone()).collect();
        (!declared.is_empty()).then_some(declared)
    };
    let tables: Vec<&Table> = project.tables().collect();
    tables
        .par_iter()
        .filter_map(|t| {
            let sql = representative_sql(project, t)?;
            let dialect = project.config.dialect.parser_dialect();
            Some((
                t.name.clone(),
                column_lineage(
                    &sql,
                    dialect.as_ref(),
                    project.config.default_project(),
                    &columns_of,
                ),
            ))
        })
        .collect()
}

/// Nodes within `depth` steps upstream (or downstream), nearest first.
pub fn tables(dag: &Dag, start: &TableName, upstream: bool, depth: usize) -> Vec<TableName> {
    let mut seen = BTreeSet::from([start.clone()]);
    let mut frontier = vec![start.clone()];
    let mut out = Vec::new();
    for _ in 0..depth {
        let mut next = Vec::new();
        for name in &frontier {
            let neighbours = if upstream {
                dag.upstream_of(name)
            } else {
                dag.downstream_of(name)
            };
            for n in neighbours {
                if seen.insert(n.clone()) {
                    out.push(n.clone());
                    next.push(n);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    out
}

fn column_of(
    lineages: &HashMap<TableName, ColumnLineage>,
    column: &SourceColumn,
) -> Option<Vec<SourceColumn>> {
    let lineage = lineages.get(&TableName::from_reference(&column.table))?;
    let output = lineage.columns.iter().find(|c| c.name == column.column)?;
    Some(
        output
            .computed_from
            .iter()
            .map(|d| d.source.clone())
            .collect(),
    )
}

/// Source columns a column is computed from, within `depth` tables upstream.
pub fn columns_upstream(
    lineages: &HashMap<TableName, ColumnLineage>,
    start: &SourceColumn,
    depth: usize,
) -> Vec<SourceColumn> {
    let mut seen = BTreeSet::new();
    let mut frontier = vec![start.clone()];
    for _ in 0..depth {
        let next: Vec<SourceColumn> = frontier
            .iter()
            .flat_map(|c| column_of(lineages, c).unwrap_or_default())
            .filter(|c| seen.insert(c.clone()))
            .collect();
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    seen.into_iter().collect()
}

/// Columns computed from a column, within `depth` tables downstream.
pub fn columns_downstream(
    lineages: &HashMap<TableName, ColumnLineage>,
    start: &SourceColumn,
    depth: usize,
) -> Vec<SourceColumn> {
    let mut readers: HashMap<&SourceColumn, Vec<SourceColumn>> = HashMap::new();
    for (table, lineage) in lineages {
        for output in &lineage.columns {
            for d in &output.computed_from {
                readers.entry(&d.source).or_default().push(SourceColumn {
                    table: table.to_string(),
                    column: output.name.clone(),
                });
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut frontier = vec![start.clone()];
    for _ in 0..depth {
        let next: Vec<SourceColumn> = frontier
            .iter()
            .flat_map(|c| readers.get(c).cloned().unwrap_or_default())
            .filter(|c| seen.insert(c.clone()))
            .collect();
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    seen.into_iter().collect()
}

/// The description an undocumented column inherits from the single upstream
/// column it passes through unchanged, if any.
pub fn inherited_description(
    project: &Project,
    lineages: &HashMap<TableName, ColumnLineage>,
    table: &TableName,
    column: &str,
) -> Option<(String, SourceColumn)> {
    let source = lineages
        .get(table)?
        .columns
        .iter()
        .find(|c| c.name == column)?
        .passthrough
        .clone()?;
    let node = project.get(&TableName::from_reference(&source.table))?;
    let description = node
        .columns()
        .iter()
        .find(|c| c.name == source.column)
        .and_then(|c| c.description.clone());
    match description {
        Some(d) => Some((d, source)),
        None => inherited_description(
            project,
            lineages,
            &TableName::from_reference(&source.table),
            &source.column,
        ),
    }
}
