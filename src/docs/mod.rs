//! The catalog site: static HTML (no server), one page per table plus an index
//! with a search box and the whole DAG. Everything a page needs is embedded, so
//! it opens from `file://`.

mod layout;

use crate::dag::Dag;
use crate::lineage::inherited_description;
use crate::metadata::{BuiltBy, RunRecord};
use crate::project::columns::ColumnLineage;
use crate::project::{Node, Project, TableName};
use crate::time::{format_ts, Timestamp};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

/// Freshness of one table, as `status` computes it.
#[derive(Clone, Debug, Default)]
pub struct Freshness {
    pub state: String,
    pub watermark: Option<Timestamp>,
    pub lag_seconds: Option<i64>,
    /// Which definition built which ranges (`on_change: forward`).
    pub definitions: Vec<BuiltBy>,
}

pub struct Catalog<'a> {
    pub project: &'a Project,
    pub dag: &'a Dag,
    pub lineage: &'a HashMap<TableName, ColumnLineage>,
    pub freshness: &'a HashMap<TableName, Freshness>,
    /// Recent runs per table, newest first.
    pub runs: &'a HashMap<TableName, Vec<RunRecord>>,
}

const CSS: &str = include_str!("site.css");
const JS: &str = include_str!("site.js");

/// Writes the site into `out`; returns the number of pages.
pub fn write_site(catalog: &Catalog, out: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(out.join("tables"))?;
    std::fs::write(out.join("site.css"), CSS)?;
    std::fs::write(out.join("site.js"), JS)?;
    std::fs::write(out.join("index.html"), index_page(catalog))?;
    let nodes: Vec<&Node> = catalog.project.nodes.iter().collect();
    nodes
        .par_iter()
        .map(|node| {
            std::fs::write(
                out.join("tables").join(format!("{}.html", node.name())),
                node_page(catalog, node),
            )
        })
        .collect::<std::io::Result<Vec<()>>>()?;
    Ok(nodes.len() + 1)
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, prefix: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · derived catalog</title>\
         <link rel=\"stylesheet\" href=\"{prefix}site.css\"></head><body>\
         <header><a href=\"{prefix}index.html\">derived catalog</a></header><main>{body}</main>\
         <script src=\"{prefix}site.js\"></script></body></html>\n",
        escape(title)
    )
}

fn index_page(catalog: &Catalog) -> String {
    let mut entries = Vec::new();
    for node in &catalog.project.nodes {
        let kind = if node.as_source().is_some() {
            "source"
        } else {
            "table"
        };
        let description = match node {
            Node::Table(t) => t.description.clone().unwrap_or_default(),
            Node::Source(s) => s.description.clone().unwrap_or_default(),
        };
        let columns: Vec<&str> = node.columns().iter().map(|c| c.name.as_str()).collect();
        entries.push(serde_json::json!({ "name": node.name().as_str(), "kind": kind, "description": description, "columns": columns }));
    }
    let index = serde_json::to_string(&entries)
        .expect("serializable")
        .replace("</", "<\\/");
    let graph = layout::svg(catalog.project, catalog.dag, None, "tables/");
    let tables = catalog.project.tables().count();
    let body = format!(
        "<h1>Catalog</h1><p>{tables} tables, {} sources.</p>\
         <input id=\"search\" type=\"search\" placeholder=\"Search tables and columns\" autofocus>\
         <ul id=\"results\"></ul><h2>DAG</h2><p class=\"hint\">Drag to pan, wheel to zoom, click a node to open it.</p>{graph}\
         <script>window.DERIVED_INDEX = {index};</script>",
        catalog.project.nodes.len() - tables
    );
    page("Catalog", "", &body)
}

fn node_page(catalog: &Catalog, node: &Node) -> String {
    let name = node.name();
    let mut body = format!("<h1>{}</h1>", escape(name.as_str()));
    match node {
        Node::Source(s) => {
            let _ = write!(
                body,
                "<p class=\"kind\">source</p><p>{}</p>",
                escape(s.description.as_deref().unwrap_or(""))
            );
        }
        Node::Table(t) => {
            let _ = write!(
                body,
                "<p>{}</p><dl><dt>owner</dt><dd>{}</dd><dt>schedule</dt><dd>{}</dd><dt>strategy</dt><dd>{}</dd><dt>start</dt><dd>{}</dd><dt>tags</dt><dd>{}</dd></dl>",
                escape(t.description.as_deref().unwrap_or("")),
                escape(t.owner.as_deref().unwrap_or("–")),
                t.schedule.name(),
                t.strategy.name(),
                format_ts(t.start),
                escape(&t.tags.join(", "))
            );
            freshness_section(&mut body, catalog.freshness.get(name));
        }
    }
    columns_section(&mut body, catalog, node);
    let link = |n: &TableName| format!("<a href=\"{n}.html\">{n}</a>");
    let upstream: Vec<String> = catalog.dag.upstream_of(name).iter().map(link).collect();
    let downstream: Vec<String> = catalog.dag.downstream_of(name).iter().map(link).collect();
    let _ = write!(
        body,
        "<h2>Lineage</h2><p>upstream: {}</p><p>downstream: {}</p>{}",
        if upstream.is_empty() {
            "–".into()
        } else {
            upstream.join(", ")
        },
        if downstream.is_empty() {
            "–".into()
        } else {
            downstream.join(", ")
        },
        layout::svg(catalog.project, catalog.dag, Some(name), "")
    );
    if let Node::Table(t) = node {
        let _ = write!(
            body,
            "<h2>SQL</h2><pre class=\"sql\">{}</pre>",
            highlight(&t.sql)
        );
        runs_section(
            &mut body,
            catalog
                .runs
                .get(name)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
    }
    page(name.as_str(), "../", &body)
}

fn freshness_section(body: &mut String, freshness: Option<&Freshness>) {
    let Some(f) = freshness else { return };
    let _ = write!(
        body,
        "<h2>Freshness</h2><p class=\"state {state}\">{state}</p><p>complete through {} (lag {})</p>",
        f.watermark.map_or("–".to_string(), format_ts),
        f.lag_seconds.map_or("–".to_string(), |s| format!("{}h", s / 3600)),
        state = escape(&f.state)
    );
    if f.definitions.is_empty() {
        return;
    }
    body.push_str("<h3>Built by definition</h3><ul class=\"definitions\">");
    for d in &f.definitions {
        let ranges: Vec<String> = d.ranges.iter().map(|[s, e]| format!("{s} – {e}")).collect();
        let _ = write!(
            body,
            "<li><code>{}</code>{}: {}</li>",
            escape(&d.fingerprint[..d.fingerprint.len().min(12)]),
            if d.current { " (current)" } else { "" },
            escape(&ranges.join(", "))
        );
    }
    body.push_str("</ul>");
}

fn columns_section(body: &mut String, catalog: &Catalog, node: &Node) {
    let lineage = catalog.lineage.get(node.name());
    let mut names: Vec<String> = node.columns().iter().map(|c| c.name.clone()).collect();
    for c in lineage.map(|l| l.columns.as_slice()).unwrap_or_default() {
        if !names.contains(&c.name) {
            names.push(c.name.clone());
        }
    }
    body.push_str("<h2>Columns</h2><table class=\"columns\"><tr><th>column</th><th>type</th><th>description</th><th>policy</th><th>computed from</th></tr>");
    for name in names {
        let declared = node.columns().iter().find(|c| c.name == name);
        let description = match declared.and_then(|c| c.description.clone()) {
            Some(d) => escape(&d),
            None => inherited_description(catalog.project, catalog.lineage, node.name(), &name)
                .map(|(d, from)| {
                    format!(
                        "{} <span class=\"inherited\">(inherited from {}.{})</span>",
                        escape(&d),
                        from.table,
                        from.column
                    )
                })
                .unwrap_or_default(),
        };
        let sources: Vec<String> = lineage
            .and_then(|l| l.columns.iter().find(|c| c.name == name))
            .map(|c| {
                c.computed_from
                    .iter()
                    .map(|d| {
                        format!(
                            "<a href=\"{t}.html\">{t}</a>.{}",
                            d.source.column,
                            t = d.source.table
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{description}</td><td>{}</td><td>{}</td></tr>",
            escape(&name),
            escape(declared.and_then(|c| c.data_type.as_deref()).unwrap_or("")),
            escape(declared.and_then(|c| c.policy.as_deref()).unwrap_or("")),
            sources.join(", ")
        );
    }
    body.push_str("</table>");
}

fn runs_section(body: &mut String, runs: &[RunRecord]) {
    body.push_str("<h2>Recent runs</h2>");
    if runs.is_empty() {
        body.push_str("<p>No runs yet.</p>");
        return;
    }
    let seconds: Vec<f64> = runs
        .iter()
        .rev()
        .map(|r| {
            r.finished_at.map_or(0.0, |f| {
                (f - r.started_at).num_milliseconds() as f64 / 1000.0
            })
        })
        .collect();
    let rows: Vec<f64> = runs
        .iter()
        .rev()
        .map(|r| r.rows_written.unwrap_or(0) as f64)
        .collect();
    let _ = write!(
        body,
        "<p>duration {} rows written {}</p>",
        sparkline(&seconds),
        sparkline(&rows)
    );
    body.push_str("<table class=\"runs\"><tr><th>run</th><th>action</th><th>interval</th><th>status</th><th>rows</th><th>started</th></tr>");
    for r in runs.iter().take(20) {
        let interval = match (r.interval_start, r.interval_end) {
            (Some(s), Some(e)) => format!("{} .. {}", format_ts(s), format_ts(e)),
            _ => "–".into(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{interval}</td><td class=\"{s}\">{s}</td><td>{}</td><td>{}</td></tr>",
            r.run_id,
            escape(r.action.name()),
            r.rows_written.map_or("–".into(), |n| n.to_string()),
            format_ts(r.started_at),
            s = r.status.name()
        );
    }
    body.push_str("</table>");
}

/// A small inline SVG line of `values` (oldest first).
fn sparkline(values: &[f64]) -> String {
    let max = values.iter().cloned().fold(f64::MIN_POSITIVE, f64::max);
    let step = 120.0 / (values.len().max(2) - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, 20.0 - 18.0 * v / max))
        .collect();
    format!("<svg class=\"spark\" width=\"120\" height=\"20\"><polyline fill=\"none\" stroke=\"currentColor\" points=\"{}\"/></svg>", points.join(" "))
}

const KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "group",
    "by",
    "order",
    "having",
    "join",
    "left",
    "right",
    "full",
    "outer",
    "inner",
    "on",
    "using",
    "as",
    "with",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "case",
    "when",
    "then",
    "else",
    "end",
    "cast",
    "distinct",
    "union",
    "all",
    "limit",
    "over",
    "partition",
    "qualify",
    "exists",
    "between",
    "like",
    "timestamp",
    "date",
    "interval",
];

/// SQL with keywords, strings and comments marked for highlighting.
pub fn highlight(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            let end = sql[i + 1..].find('\'').map_or(sql.len(), |j| i + j + 2);
            let _ = write!(out, "<span class=\"str\">{}</span>", escape(&sql[i..end]));
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
        } else if c == '-' && sql[i..].starts_with("--") {
            let end = sql[i..].find('\n').map_or(sql.len(), |j| i + j);
            let _ = write!(
                out,
                "<span class=\"comment\">{}</span>",
                escape(&sql[i..end])
            );
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = sql[i..]
                .find(|x: char| !(x.is_ascii_alphanumeric() || x == '_'))
                .map_or(sql.len(), |j| i + j);
            let word = &sql[i..end];
            if KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                let _ = write!(out, "<span class=\"kw\">{word}</span>");
            } else {
                out.push_str(word);
            }
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
        } else {
            out.push_str(&escape(&c.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_marks_keywords_strings_and_comments_and_escapes_html() {
        assert_eq!(
            highlight("SELECT a<b, 'x' -- c\nFROM t"),
            "<span class=\"kw\">SELECT</span> a&lt;b, <span class=\"str\">'x'</span> <span class=\"comment\">-- c</span>\n<span class=\"kw\">FROM</span> t"
        );
    }
}
