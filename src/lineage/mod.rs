//! Lineage: table-level from the DAG, column-level from each table's SQL
//! (see [`columns`]), and run-level from the log's `upstream_runs`.

use crate::dag::Dag;
use crate::project::columns::{column_lineage, ColumnLineage, SourceColumn};
use crate::project::yaml::Reader;
use crate::project::{Diagnostic, Project, Table, TableName};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// Column lineage of every table. Tables are taken level by level in DAG
/// order (each level in parallel), so a `*` over an upstream table expands to
/// the columns that table's SQL produces, and falls back to its declared
/// columns only when those are unknown. The lineage the load computed against
/// declared columns is kept where every upstream produces what it declares;
/// only the other tables are parsed again. Table names in the result are the
/// defined spellings.
pub fn all_columns(project: &Project) -> HashMap<TableName, ColumnLineage> {
    let mut done: HashMap<TableName, ColumnLineage> = HashMap::with_capacity(project.nodes.len());
    for level in levels(project) {
        let analysed: Vec<(TableName, ColumnLineage)> = level
            .par_iter()
            .filter_map(|t| Some((t.name.clone(), analyse(project, &done, t)?)))
            .collect();
        done.extend(analysed);
    }
    done
}

/// Column lineage of a few tables, each against what its upstreams' SQL
/// produces (one level deep: an upstream's own `*` expands to what its
/// upstreams declare). For when only some readers matter, at a fraction of
/// [`all_columns`]' cost.
pub fn columns_of_tables(
    project: &Project,
    names: &BTreeSet<TableName>,
) -> HashMap<TableName, ColumnLineage> {
    let tables: Vec<&Table> = names.iter().filter_map(|n| project.table(n)).collect();
    let upstreams: BTreeSet<&TableName> = tables.iter().flat_map(|t| &t.upstreams).collect();
    let none = HashMap::new();
    let produced: HashMap<TableName, ColumnLineage> = upstreams
        .par_iter()
        .filter_map(|u| {
            let table = project.table(u)?;
            Some(((*u).clone(), analyse(project, &none, table)?))
        })
        .collect();
    tables
        .par_iter()
        .filter_map(|t| Some((t.name.clone(), analyse(project, &produced, t)?)))
        .collect()
}

/// One table's lineage against what `done` knows its upstreams produce.
fn analyse(
    project: &Project,
    done: &HashMap<TableName, ColumnLineage>,
    t: &Table,
) -> Option<ColumnLineage> {
    if let Some(loaded) = t
        .lineage
        .as_ref()
        .filter(|_| upstreams_produce_what_they_declare(project, done, t))
    {
        return Some(with_defined_names(project, loaded.clone()));
    }
    let sql = project.representative_sql(t)?;
    let columns_of = |written: &str| {
        let name = project.resolve_reference(written)?;
        known_columns(project, done, name)
    };
    let lineage = column_lineage(
        &sql,
        project.config.dialect,
        project.config.default_project(),
        &columns_of,
    );
    Some(with_defined_names(project, lineage))
}

/// Whether the declared columns the load's lineage used are what every
/// upstream table's SQL produces (or all that is known of it).
fn upstreams_produce_what_they_declare(
    project: &Project,
    done: &HashMap<TableName, ColumnLineage>,
    table: &Table,
) -> bool {
    table.upstreams.iter().all(|u| {
        let Some(produced) = done.get(u).filter(|l| l.columns_complete) else {
            return true;
        };
        let declared = project.get(u).map_or(&[][..], |n| n.columns());
        produced.columns.len() == declared.len()
            && produced
                .columns
                .iter()
                .zip(declared)
                .all(|(p, d)| p.name.eq_ignore_ascii_case(&d.name))
    })
}

/// The columns of a source or table, as far as they are known: what a table's
/// SQL produces, else what its definition declares.
fn known_columns(
    project: &Project,
    done: &HashMap<TableName, ColumnLineage>,
    name: &TableName,
) -> Option<Vec<String>> {
    if let Some(lineage) = done.get(name).filter(|l| l.columns_complete) {
        return Some(lineage.columns.iter().map(|c| c.name.clone()).collect());
    }
    let declared: Vec<String> = project
        .get(name)?
        .columns()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    (!declared.is_empty()).then_some(declared)
}

/// The columns of a source or table, when they are known: what a table's SQL
/// produces, else what its definition declares.
pub fn known_columns_of(
    project: &Project,
    lineages: &HashMap<TableName, ColumnLineage>,
    name: &TableName,
) -> Option<Vec<String>> {
    known_columns(project, lineages, name)
}

fn with_defined_names(project: &Project, mut lineage: ColumnLineage) -> ColumnLineage {
    let rename = |column: &mut SourceColumn| {
        if let Some(name) = project.resolve_reference(&column.table) {
            if name.as_str() != column.table {
                column.table = name.to_string();
            }
        }
    };
    for output in &mut lineage.columns {
        for derivation in &mut output.computed_from {
            rename(&mut derivation.source);
        }
        if let Some(source) = &mut output.passthrough {
            rename(source);
        }
    }
    lineage.influences.iter_mut().for_each(rename);
    lineage
}

/// Tables in DAG levels: every table comes after the tables it reads. Tables
/// on a cycle (an error `validate` reports) come last.
fn levels(project: &Project) -> Vec<Vec<&Table>> {
    let tables: Vec<&Table> = project.tables().collect();
    let position: HashMap<&TableName, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.name, i))
        .collect();
    let mut waiting_on: Vec<usize> = vec![0; tables.len()];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); tables.len()];
    for (i, table) in tables.iter().enumerate() {
        for upstream in &table.upstreams {
            if let Some(&u) = position.get(upstream) {
                waiting_on[i] += 1;
                readers[u].push(i);
            }
        }
    }
    let mut level: Vec<usize> = (0..tables.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut placed = vec![false; tables.len()];
    let mut out = Vec::new();
    while !level.is_empty() {
        let mut next = Vec::new();
        for &i in &level {
            placed[i] = true;
            for &r in &readers[i] {
                waiting_on[r] -= 1;
                if waiting_on[r] == 0 {
                    next.push(r);
                }
            }
        }
        out.push(level.iter().map(|&i| tables[i]).collect());
        level = next;
    }
    let on_cycles: Vec<&Table> = (0..tables.len())
        .filter(|&i| !placed[i])
        .map(|i| tables[i])
        .collect();
    if !on_cycles.is_empty() {
        out.push(on_cycles);
    }
    out
}

/// Warnings where a table's `columns:` and what its SQL produces disagree:
/// a declared column the SQL does not produce, and a produced column that
/// `columns:` does not declare. Tables without `columns:` and tables whose
/// produced columns are unknown are not compared.
pub fn column_diagnostics(
    project: &Project,
    lineages: &HashMap<TableName, ColumnLineage>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for table in project.tables().filter(|t| !t.columns.is_empty()) {
        let Some(lineage) = lineages.get(&table.name).filter(|l| l.columns_complete) else {
            continue;
        };
        let produced: Vec<&str> = lineage.columns.iter().map(|c| c.name.as_str()).collect();
        let text = project.files.text(&table.file).unwrap_or_default();
        let reader = Reader::new(&table.file, text);
        let columns_key = std::cell::OnceCell::new();
        let columns_key = || {
            columns_key
                .get_or_init(|| reader.key_span(reader.whole(), "columns"))
                .clone()
        };
        for declared in &table.columns {
            if produced
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&declared.name))
            {
                continue;
            }
            let columns_key = columns_key();
            let at = text[columns_key.start..]
                .find(declared.name.as_str())
                .map_or(columns_key.start, |i| columns_key.start + i);
            out.push(
                Diagnostic::warning(
                    "column-not-produced",
                    &table.file,
                    at..at + declared.name.len(),
                    format!(
                        "`{}` declares column `{}`, but its SQL does not produce it",
                        table.name, declared.name
                    ),
                )
                .for_table(table.name.as_str())
                .with_help(format!(
                    "the SQL produces: {}; remove `{}` from `columns:` or select it",
                    produced.join(", "),
                    declared.name
                )),
            );
        }
        for name in produced {
            if table
                .columns
                .iter()
                .any(|d| d.name.eq_ignore_ascii_case(name))
            {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    "column-not-declared",
                    &table.file,
                    columns_key(),
                    format!(
                        "`{}` produces column `{name}`, which `columns:` does not declare",
                        table.name
                    ),
                )
                .for_table(table.name.as_str())
                .with_help(format!("add `- {{name: {name}}}` under `columns:`")),
            );
        }
    }
    out
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
