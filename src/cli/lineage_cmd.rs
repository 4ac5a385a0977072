//! `derived lineage` (tables, columns, runs) and `derived docs`.

use super::{Format, Outcome};
use crate::app::{self, Settings};
use crate::docs::{self, Catalog, Freshness};
use crate::lineage;
use crate::metadata::{MetadataStore, RunId};
use crate::project::columns::SourceColumn;
use crate::project::TableName;
use crate::time::format_ts;
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

pub fn lineage_command(
    s: &Settings,
    format: Format,
    node: Option<&str>,
    upstream: bool,
    downstream: bool,
    depth: usize,
    run: Option<RunId>,
) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    if let Some(run_id) = run {
        let stores = app::open_stores(&loaded.project)?;
        let tree = run_tree(stores.metadata.as_ref(), run_id, depth)?
            .ok_or_else(|| anyhow!("no run {run_id} in the log of env {}", s.env))?;
        let stdout = match format {
            Format::Json => serde_json::to_string_pretty(&tree)? + "\n",
            _ => {
                let mut out = String::new();
                print_tree(&mut out, &tree, 0);
                out
            }
        };
        return Ok(Outcome::ok(stdout));
    }
    let node = node.ok_or_else(|| anyhow!("name a table (`dataset.table`), a column (`dataset.table.column`) or a run (`--run ID`)"))?;
    let (both, up, down) = (!upstream && !downstream, upstream, downstream);
    let (up_names, down_names) = match split_column(&loaded.project, node) {
        Some((table, column)) => {
            let lineages = lineage::all_columns(&loaded.project);
            let known = lineage::known_columns_of(&loaded.project, &lineages, &table);
            if let Some(known) =
                known.filter(|k| !k.iter().any(|c| c.eq_ignore_ascii_case(&column)))
            {
                return Ok(Outcome {
                    stdout: format!(
                        "`{table}` has no column `{column}`; its columns: {}\n",
                        known.join(", ")
                    ),
                    code: 1,
                });
            }
            let start = SourceColumn {
                table: table.to_string(),
                column,
            };
            let name = |c: &SourceColumn| format!("{}.{}", c.table, c.column);
            (
                lineage::columns_upstream(&lineages, &start, depth)
                    .iter()
                    .map(name)
                    .collect::<Vec<_>>(),
                lineage::columns_downstream(&lineages, &start, depth)
                    .iter()
                    .map(name)
                    .collect::<Vec<_>>(),
            )
        }
        None => {
            let name = TableName::parse(node).map_err(|e| anyhow!(e))?;
            let Some(name) = loaded.project.get(&name).map(|n| n.name().clone()) else {
                bail!("no source or table is named `{node}`");
            };
            let names = |upstream| {
                lineage::tables(&loaded.dag, &name, upstream, depth)
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            };
            (names(true), names(false))
        }
    };
    let up_names = if both || up { up_names } else { Vec::new() };
    let down_names = if both || down { down_names } else { Vec::new() };
    let stdout = match format {
        Format::Json => {
            serde_json::to_string_pretty(
                &serde_json::json!({"node": node, "upstream": up_names, "downstream": down_names}),
            )? + "\n"
        }
        Format::Dot | Format::Mermaid => {
            let mut out = String::from("digraph lineage {\n  rankdir=LR;\n");
            for u in &up_names {
                let _ = writeln!(out, "  \"{u}\" -> \"{node}\";");
            }
            for d in &down_names {
                let _ = writeln!(out, "  \"{node}\" -> \"{d}\";");
            }
            out + "}\n"
        }
        Format::Text => format!(
            "{node}\nupstream:\n{}downstream:\n{}",
            bullets(&up_names),
            bullets(&down_names)
        ),
    };
    Ok(Outcome::ok(stdout))
}

fn bullets(names: &[String]) -> String {
    if names.is_empty() {
        return "  (none)\n".into();
    }
    names.iter().map(|n| format!("  {n}\n")).collect()
}

/// `dataset.table.column` when the first two parts name a node of the project.
fn split_column(project: &crate::project::Project, text: &str) -> Option<(TableName, String)> {
    let (table, column) = text.rsplit_once('.')?;
    let name = TableName::parse(table).ok()?;
    project
        .get(&name)
        .map(|node| (node.name().clone(), column.to_string()))
}

fn run_tree(
    metadata: &dyn MetadataStore,
    run_id: RunId,
    depth: usize,
) -> Result<Option<serde_json::Value>> {
    let Some(run) = metadata.run(run_id)? else {
        return Ok(None);
    };
    let mut upstream = Vec::new();
    for u in &run.upstream_runs {
        let child = match (u.run_id, depth > 0) {
            (Some(id), true) => run_tree(metadata, id, depth - 1)?,
            _ => None,
        };
        upstream.push(child.unwrap_or_else(|| serde_json::json!({"table": u.table, "run_id": u.run_id, "watermark": u.watermark.map(format_ts)})));
    }
    Ok(Some(serde_json::json!({
        "table": run.table_name,
        "run_id": run.run_id,
        "action": run.action,
        "interval_start": run.interval_start.map(format_ts),
        "interval_end": run.interval_end.map(format_ts),
        "status": run.status,
        "upstream": upstream,
    })))
}

fn print_tree(out: &mut String, node: &serde_json::Value, indent: usize) {
    let text = |k: &str| {
        node[k]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| node[k].to_string())
    };
    let what = if node["action"].is_null() {
        format!("source, complete through {}", text("watermark"))
    } else {
        format!(
            "{} {} .. {} {}",
            text("action"),
            text("interval_start"),
            text("interval_end"),
            text("status")
        )
    };
    let _ = writeln!(
        out,
        "{:indent$}{} run {}: {what}",
        "",
        text("table"),
        text("run_id"),
        indent = indent * 2
    );
    for child in node["upstream"].as_array().into_iter().flatten() {
        print_tree(out, child, indent + 1);
    }
}

pub fn docs_command(s: &Settings, out: &Path) -> Result<Outcome> {
    let loaded = app::load_valid(s)?;
    let stores = app::open_stores(&loaded.project)?;
    let rows = app::status::status(s, &loaded, &stores, None)?;
    let freshness: HashMap<TableName, Freshness> = rows
        .into_iter()
        .map(|r| {
            (
                TableName::from_reference(&r.name),
                Freshness {
                    state: r.state.to_string(),
                    watermark: r.watermark,
                    lag_seconds: r.lag_seconds,
                    definitions: r.definitions,
                },
            )
        })
        .collect();
    let mut runs: HashMap<TableName, Vec<_>> = HashMap::new();
    for record in stores.metadata.log(s.env.name(), None, None, 20_000)? {
        let list = runs
            .entry(TableName::from_reference(&record.table_name))
            .or_default();
        if list.len() < 20 {
            list.push(record);
        }
    }
    let lineage = lineage::all_columns(&loaded.project);
    let catalog = Catalog {
        project: &loaded.project,
        dag: &loaded.dag,
        lineage: &lineage,
        freshness: &freshness,
        runs: &runs,
    };
    let pages = docs::write_site(&catalog, out)?;
    Ok(Outcome::ok(format!(
        "wrote {pages} pages to {}\n",
        out.display()
    )))
}
