//! Privacy policies through column lineage: a column computed from a column
//! tagged with a policy carries that policy, unless a privatizer (or a function
//! the policy lists in `cleared_by`) sits on the way. `validate` reports every
//! column a table's readers or export targets may not see, with the chain of
//! columns the policy came through.

use crate::dag::Dag;
use crate::project::columns::ColumnLineage;
use crate::project::yaml::Reader;
use crate::project::{Diagnostic, Project, TableName};
use std::collections::{BTreeMap, HashMap};

/// For one column: each policy it carries and the chain of columns it came through.
pub type Policies = BTreeMap<String, Vec<String>>;

/// The policies every column of every node carries, and why a table's lineage
/// is unknown where it is.
pub struct Propagation {
    pub columns: HashMap<(TableName, String), Policies>,
    /// Tables whose column lineage is incomplete, with the first reason: every
    /// column of theirs carries every policy of every column they read.
    pub unknown: HashMap<TableName, String>,
}

/// Policies of every column of every node, propagated in DAG order. Where a
/// table's lineage is incomplete (its SQL does not parse, a `*` cannot be
/// expanded, a column cannot be attributed) it fails closed: every one of its
/// columns carries every policy of every column of every node it reads.
pub fn propagate(
    project: &Project,
    dag: &Dag,
    lineage: &HashMap<TableName, ColumnLineage>,
) -> Propagation {
    let mut out: HashMap<(TableName, String), Policies> = HashMap::new();
    // Every policy some column of a node carries, with one chain for each.
    let mut by_node: HashMap<TableName, Policies> = HashMap::new();
    let mut unknown = HashMap::new();
    let privatizers = &project.config.privatizers;
    for name in dag.order() {
        let Some(node) = project.get(name) else {
            continue;
        };
        let mut carried_here = Policies::new();
        for column in node.columns() {
            if let Some(policy) = &column.policy {
                let here = format!("{name}.{}", column.name);
                out.entry((name.clone(), column.name.clone()))
                    .or_default()
                    .insert(policy.clone(), vec![here.clone()]);
                carried_here.entry(policy.clone()).or_insert(vec![here]);
            }
        }
        let Some(table) = node.as_table() else {
            by_node.insert(name.clone(), carried_here);
            continue;
        };
        let table_lineage = lineage.get(name);
        let gap = match table_lineage {
            None => Some("its SQL was not analysed".to_string()),
            Some(l) => l.gaps.first().cloned(),
        };
        if let Some(gap) = gap {
            let read: Policies = table
                .upstreams
                .iter()
                .filter_map(|u| by_node.get(u))
                .flat_map(|policies| policies.iter())
                .map(|(p, chain)| (p.clone(), chain.clone()))
                .collect();
            let mut outputs: Vec<String> = table_lineage
                .map(|l| l.columns.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default();
            for declared in &table.columns {
                if !outputs.contains(&declared.name) {
                    outputs.push(declared.name.clone());
                }
            }
            if outputs.is_empty() {
                outputs.push("*".to_string());
            }
            for output in outputs {
                let entry = out.entry((name.clone(), output.clone())).or_default();
                for (policy, chain) in &read {
                    let mut chain = chain.clone();
                    chain.push(format!("{name}.{output}"));
                    entry.entry(policy.clone()).or_insert(chain.clone());
                    carried_here.entry(policy.clone()).or_insert(chain);
                }
            }
            unknown.insert(name.clone(), gap);
            by_node.insert(name.clone(), carried_here);
            continue;
        }
        let Some(table_lineage) = table_lineage else {
            continue;
        };
        for output in &table_lineage.columns {
            let mut carried = Policies::new();
            for d in &output.computed_from {
                if d.functions.iter().any(|f| privatizers.contains(f)) {
                    continue;
                }
                let source = (
                    TableName::from_reference(&d.source.table),
                    d.source.column.clone(),
                );
                for (policy, chain) in out.get(&source).cloned().unwrap_or_default() {
                    let cleared = project
                        .config
                        .policies
                        .get(&policy)
                        .is_some_and(|p| d.functions.iter().any(|f| p.cleared_by.contains(f)));
                    if !cleared {
                        let mut chain = chain;
                        chain.push(format!("{name}.{}", output.name));
                        carried.entry(policy).or_insert(chain);
                    }
                }
            }
            let entry = out.entry((name.clone(), output.name.clone())).or_default();
            for (policy, chain) in carried {
                carried_here.entry(policy.clone()).or_insert(chain.clone());
                entry.entry(policy).or_insert(chain);
            }
        }
        by_node.insert(name.clone(), carried_here);
    }
    Propagation {
        columns: out,
        unknown,
    }
}

/// Whether any table has readers or exports, so that policies must be checked.
pub fn is_guarded(project: &Project) -> bool {
    project
        .tables()
        .any(|t| !t.readers.is_empty() || !t.exports.is_empty())
}

/// Every column that a table's `readers` or export targets may not see.
pub fn check(
    project: &Project,
    dag: &Dag,
    lineage: &HashMap<TableName, ColumnLineage>,
) -> Vec<Diagnostic> {
    if !is_guarded(project) {
        return Vec::new();
    }
    let propagation = propagate(project, dag, lineage);
    let mut by_table: HashMap<&TableName, Vec<(&String, &Policies)>> = HashMap::new();
    for ((table, column), carried) in &propagation.columns {
        by_table.entry(table).or_default().push((column, carried));
    }
    let mut out = Vec::new();
    for table in project.tables() {
        if table.readers.is_empty() && table.exports.is_empty() {
            continue;
        }
        let text = project.files.text(&table.file).unwrap_or_default();
        let reader = Reader::new(&table.file, text);
        let mut columns = by_table.remove(&table.name).unwrap_or_default();
        columns.sort_by(|a, b| a.0.cmp(b.0));
        let unknown = propagation.unknown.get(&table.name);
        for (column, carried) in columns {
            for (policy, chain) in carried {
                // A tag that no policy defines restricts nobody.
                let Some(rule) = project.config.policies.get(policy) else {
                    continue;
                };
                let path = chain.join(" → ");
                let why = unknown.map_or_else(String::new, |gap| {
                    format!("; lineage unknown: {gap}, so every column carries every policy the table reads")
                });
                let help = match unknown {
                    Some(_) => format!("{}; or make the lineage known: write SQL the parser reads, expand `*` over tables whose columns are unknown, or qualify ambiguous columns", fix(project, policy)),
                    None => fix(project, policy),
                };
                for group in table.readers.iter().filter(|g| !rule.readers.contains(g)) {
                    let span = reader.value_span(reader.whole(), "readers");
                    out.push(
                        Diagnostic::error("policy-exposed", &table.file, span, format!("readers `{group}` may not see `{policy}` data, but {}.{column} carries it ({path}){why}", table.name))
                            .for_table(table.name.as_str())
                            .with_help(help.clone()),
                    );
                }
                for export in table
                    .exports
                    .iter()
                    .filter(|e| !rule.exports.contains(&e.to))
                {
                    let span = reader.key_span(reader.whole(), "export");
                    out.push(
                        Diagnostic::error("policy-exported", &table.file, span, format!("store `{}` may not receive `{policy}` data, but {}.{column} carries it ({path}){why}", export.to, table.name))
                            .for_table(table.name.as_str())
                            .with_help(help.clone()),
                    );
                }
            }
        }
    }
    out
}

fn fix(project: &Project, policy: &str) -> String {
    let privatizers = if project.config.privatizers.is_empty() {
        "a privatizer listed under `privatizers:`".to_string()
    } else {
        project.config.privatizers.join(", ")
    };
    format!("pass the column through {privatizers}, drop it, or allow it under `policies: {{{policy}: ...}}` in derived.yml")
}
