//! A layered drawing of the DAG, computed in Rust and emitted as SVG: columns by
//! depth, rows ordered by the average row of each node's upstreams.

use super::escape;
use crate::dag::Dag;
use crate::project::{Project, TableName};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

const WIDTH: usize = 220;
const COLUMN: usize = 260;
const ROW: usize = 32;

/// The whole DAG, or the neighbourhood (two steps each way) of `focus`.
/// Node links point to `<prefix><name>.html`.
pub fn svg(project: &Project, dag: &Dag, focus: Option<&TableName>, prefix: &str) -> String {
    let members: BTreeSet<&TableName> = match focus {
        None => dag.order().iter().collect(),
        Some(f) => {
            let mut near: BTreeSet<&TableName> = BTreeSet::from([f]);
            let up = crate::lineage::tables(dag, f, true, 2);
            let down = crate::lineage::tables(dag, f, false, 2);
            let names: BTreeSet<&TableName> = dag
                .order()
                .iter()
                .filter(|n| up.contains(n) || down.contains(n))
                .collect();
            near.extend(names);
            near
        }
    };
    let order: Vec<&TableName> = dag.order().iter().filter(|n| members.contains(n)).collect();
    let mut depth: HashMap<&TableName, usize> = HashMap::new();
    let mut upstreams: HashMap<&TableName, Vec<&TableName>> = HashMap::new();
    for &name in &order {
        let ups: Vec<&TableName> = project
            .get(name)
            .map(|n| {
                n.upstreams()
                    .iter()
                    .filter(|u| members.contains(u))
                    .collect()
            })
            .unwrap_or_default();
        let d = ups
            .iter()
            .filter_map(|u| depth.get(u))
            .max()
            .map_or(0, |d| d + 1);
        depth.insert(name, d);
        upstreams.insert(name, ups);
    }
    let layers = depth.values().max().map_or(0, |d| d + 1);
    let mut rows: Vec<Vec<&TableName>> = vec![Vec::new(); layers];
    for &name in &order {
        rows[depth[name]].push(name);
    }
    let mut position: HashMap<&TableName, f64> = HashMap::new();
    for layer in &mut rows {
        let key = |n: &&TableName| {
            let ups = &upstreams[n];
            let sum: f64 = ups.iter().filter_map(|u| position.get(u)).sum();
            if ups.is_empty() {
                f64::MAX
            } else {
                sum / ups.len() as f64
            }
        };
        layer.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
        for (i, n) in layer.iter().enumerate() {
            position.insert(n, i as f64);
        }
    }
    let height = rows.iter().map(Vec::len).max().unwrap_or(1) * ROW + 20;
    let width = layers.max(1) * COLUMN;
    let at = |n: &TableName| (depth[n] * COLUMN + 10, position[n] as usize * ROW + 10);
    let mut out = format!("<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" data-nodes=\"{}\">", order.len());
    out.push_str("<g class=\"edges\">");
    for &name in &order {
        let (x2, y2) = at(name);
        for u in &upstreams[name] {
            let (x1, y1) = at(u);
            let (sx, sy, ex, ey) = (x1 + WIDTH, y1 + 12, x2, y2 + 12);
            let mid = (sx + ex) / 2;
            let _ = write!(
                out,
                "<path d=\"M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}\"/>"
            );
        }
    }
    out.push_str("</g><g class=\"nodes\">");
    for &name in &order {
        let (x, y) = at(name);
        let kind = if project.get(name).is_some_and(|n| n.as_source().is_some()) {
            "source"
        } else {
            "table"
        };
        let current = if Some(name) == focus { " current" } else { "" };
        let _ = write!(
            out,
            "<a href=\"{prefix}{name}.html\"><g class=\"node {kind}{current}\"><rect x=\"{x}\" y=\"{y}\" width=\"{WIDTH}\" height=\"24\" rx=\"4\"/><text x=\"{}\" y=\"{}\">{}</text></g></a>",
            x + 6,
            y + 16,
            escape(name.as_str())
        );
    }
    out.push_str("</g></svg>");
    out
}
