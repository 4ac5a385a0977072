//! Privacy policies through column lineage: a column computed from a column
//! tagged with a policy carries that policy, unless a privatizer (or a function
//! the policy lists in `cleared_by`) sits on the way. `validate` reports every
//! column a table's readers or export targets may not see, with the chain of
//! columns the policy came through.

use crate::dag::Dag;
use crate::lineage::columns::ColumnLineage;
use crate::project::yaml::Reader;
use crate::project::{Diagnostic, Project, TableName};
use std::collections::{BTreeMap, HashMap};

/// For one column: each policy it carries and the chain of columns it came through.
pub type Policies = BTreeMap<String, Vec<String>>;

/// Policies of every column of every node, propagated in DAG order.
pub fn propagate(
    project: &Project,
    dag: &Dag,
    lineage: &HashMap<TableName, ColumnLineage>,
) -> HashMap<(TableName, String), Policies> {
    let mut out: HashMap<(TableName, String), Policies> = HashMap::new();
    let privatizers = &project.config.privatizers;
    for name in dag.order() {
        let Some(node) = project.get(name) else {
            continue;
        };
        for column in node.columns() {
            if let Some(policy) = &column.policy {
                let here = format!("{name}.{}", column.name);
                out.entry((name.clone(), column.name.clone()))
                    .or_default()
                    .insert(policy.clone(), vec![here]);
            }
        }
        let Some(table_lineage) = lineage.get(name) else {
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
                entry.entry(policy).or_insert(chain);
            }
        }
    }
    out
}

/// Every column that a table's `readers` or export targets may not see.
pub fn check(project: &Project, dag: &Dag) -> Vec<Diagnostic> {
    let guarded = project
        .tables()
        .any(|t| !t.readers.is_empty() || !t.exports.is_empty());
    if !guarded {
        return Vec::new();
    }
    let lineage = crate::lineage::all_columns(project);
    let policies = propagate(project, dag, &lineage);
    let mut out = Vec::new();
    for table in project.tables() {
        let text = project.files.text(&table.file).unwrap_or_default();
        let reader = Reader::new(&table.file, text);
        let mut columns: Vec<(&(TableName, String), &Policies)> = policies
            .iter()
            .filter(|((t, _), _)| t == &table.name)
            .collect();
        columns.sort_by(|a, b| a.0.cmp(b.0));
        for ((_, column), carried) in columns {
            for (policy, chain) in carried {
                // A tag that no policy defines restricts nobody.
                let Some(rule) = project.config.policies.get(policy) else {
                    continue;
                };
                let path = chain.join(" → ");
                for group in table.readers.iter().filter(|g| !rule.readers.contains(g)) {
                    let span = reader.value_span(reader.whole(), "readers");
                    out.push(
                        Diagnostic::error("policy-exposed", &table.file, span, format!("readers `{group}` may not see `{policy}` data, but {}.{column} carries it ({path})", table.name))
                            .for_table(table.name.as_str())
                            .with_help(fix(project, policy)),
                    );
                }
                for export in table
                    .exports
                    .iter()
                    .filter(|e| !rule.exports.contains(&e.to))
                {
                    let span = reader.key_span(reader.whole(), "export");
                    out.push(
                        Diagnostic::error("policy-exported", &table.file, span, format!("store `{}` may not receive `{policy}` data, but {}.{column} carries it ({path})", export.to, table.name))
                            .for_table(table.name.as_str())
                            .with_help(fix(project, policy)),
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
