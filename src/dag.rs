//! The dependency DAG of sources and tables, cycle detection and selection.

use crate::project::{Diagnostic, Node, Project, TableName};
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed};
use petgraph::Direction;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// Edges point from an upstream to the downstream that reads it.
pub struct Dag {
    graph: DiGraph<TableName, ()>,
    index: foldhash::HashMap<TableName, NodeIndex>,
    /// Node names in a topological order (upstream first); empty when there is a cycle.
    order: Vec<TableName>,
}

impl Dag {
    pub fn build(project: &Project) -> (Dag, Vec<Diagnostic>) {
        let mut graph = DiGraph::with_capacity(project.nodes.len(), project.nodes.len() * 2);
        let mut index =
            foldhash::HashMap::with_capacity_and_hasher(project.nodes.len(), Default::default());
        for node in &project.nodes {
            index.insert(node.name().clone(), graph.add_node(node.name().clone()));
        }
        for node in &project.nodes {
            let to = index[node.name()];
            for upstream in node.upstreams() {
                if let Some(&from) = index.get(upstream) {
                    graph.add_edge(from, to, ());
                }
            }
        }
        let mut diagnostics = Vec::new();
        let order = match toposort(&graph, None) {
            Ok(order) => order.into_iter().map(|i| graph[i].clone()).collect(),
            Err(_) => {
                diagnostics = cycle_diagnostics(&graph, project);
                Vec::new()
            }
        };
        (
            Dag {
                graph,
                index,
                order,
            },
            diagnostics,
        )
    }

    pub fn order(&self) -> &[TableName] {
        &self.order
    }

    pub fn upstream_of(&self, name: &TableName) -> Vec<TableName> {
        self.neighbors(name, Direction::Incoming)
    }

    pub fn downstream_of(&self, name: &TableName) -> Vec<TableName> {
        self.neighbors(name, Direction::Outgoing)
    }

    fn neighbors(&self, name: &TableName, direction: Direction) -> Vec<TableName> {
        let Some(&i) = self.index.get(name) else {
            return Vec::new();
        };
        let mut names: Vec<TableName> = self
            .graph
            .neighbors_directed(i, direction)
            .map(|n| self.graph[n].clone())
            .collect();
        names.sort();
        names
    }

    /// Every node reachable downstream (excluding the start).
    pub fn all_downstream(&self, name: &TableName) -> BTreeSet<TableName> {
        let mut out = BTreeSet::new();
        if let Some(&i) = self.index.get(name) {
            let mut bfs = Bfs::new(&self.graph, i);
            while let Some(n) = bfs.next(&self.graph) {
                out.insert(self.graph[n].clone());
            }
            out.remove(name);
        }
        out
    }

    /// Every node reachable upstream (excluding the start).
    pub fn all_upstream(&self, name: &TableName) -> BTreeSet<TableName> {
        let mut out = BTreeSet::new();
        if let Some(&i) = self.index.get(name) {
            let reversed = Reversed(&self.graph);
            let mut bfs = Bfs::new(reversed, i);
            while let Some(n) = bfs.next(reversed) {
                out.insert(self.graph[n].clone());
            }
            out.remove(name);
        }
        out
    }

    pub fn edges(&self) -> Vec<(TableName, TableName)> {
        let mut edges: Vec<_> = self
            .graph
            .raw_edges()
            .iter()
            .map(|e| {
                (
                    self.graph[e.source()].clone(),
                    self.graph[e.target()].clone(),
                )
            })
            .collect();
        edges.sort();
        edges
    }

    /// The names a selector expression picks: `name`, `+name`, `name+`, `+name+`,
    /// `tag:x`; several separated by spaces or commas are united.
    pub fn select(
        &self,
        project: &Project,
        expression: &str,
    ) -> Result<BTreeSet<TableName>, String> {
        let mut selected = BTreeSet::new();
        for term in expression.split([' ', ',']).filter(|t| !t.is_empty()) {
            if let Some(tag) = term.strip_prefix("tag:") {
                selected.extend(
                    project
                        .tables()
                        .filter(|t| t.tags.iter().any(|x| x == tag))
                        .map(|t| t.name.clone()),
                );
                continue;
            }
            let with_upstream = term.starts_with('+');
            let with_downstream = term.ends_with('+') && term.len() > 1;
            let bare = term.trim_start_matches('+').trim_end_matches('+');
            let name = TableName::parse(bare).map_err(|e| format!("selector `{term}`: {e}"))?;
            let Some(name) = project.get(&name).map(|n| n.name().clone()) else {
                let known: Vec<&str> = project.nodes.iter().map(|n| n.name().as_str()).collect();
                let hint = crate::project::suggest(bare, &known)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(format!(
                    "selector `{term}`: no source or table is named `{bare}`{hint}"
                ));
            };
            if with_upstream {
                selected.extend(self.all_upstream(&name));
            }
            if with_downstream {
                selected.extend(self.all_downstream(&name));
            }
            selected.insert(name);
        }
        Ok(selected)
    }
}

fn cycle_diagnostics(graph: &DiGraph<TableName, ()>, project: &Project) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for component in tarjan_scc(graph) {
        if component.len() < 2 && !component.iter().any(|&n| graph.contains_edge(n, n)) {
            continue;
        }
        let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
        let start = *component
            .iter()
            .min_by_key(|&&n| &graph[n])
            .expect("non-empty component");
        let path = cycle_path(graph, start, &members);
        let names: Vec<&str> = path.iter().map(|&n| graph[n].as_str()).collect();
        let first = &graph[start];
        let (file, span) = match project.table(first) {
            Some(t) => crate::project::load::reference_location(project, t, &graph[path[1]]),
            None => (
                project
                    .get(first)
                    .map(Node::file)
                    .cloned()
                    .unwrap_or_default(),
                0..0,
            ),
        };
        out.push(
            Diagnostic::error(
                "cycle",
                &file,
                span,
                format!("dependency cycle: {}", names.join(" -> ")),
            )
            .for_table(first.as_str())
            .with_help(
                "a table cannot depend on itself through others; remove one of these references",
            ),
        );
    }
    out
}

/// A path that leaves `start` and returns to it inside one strongly connected component.
fn cycle_path(
    graph: &DiGraph<TableName, ()>,
    start: NodeIndex,
    members: &BTreeSet<NodeIndex>,
) -> Vec<NodeIndex> {
    let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph.neighbors(n).filter(|m| members.contains(m)).collect();
        next.sort_by_key(|&m| &graph[m]);
        for m in next {
            if m == start {
                let mut path = vec![start];
                let mut at = n;
                while at != start {
                    path.push(at);
                    at = previous[&at];
                }
                let last = path.len();
                path[1..last].reverse();
                path.push(start);
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = previous.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start, start]
}

#[derive(Serialize)]
pub struct DagJson {
    pub nodes: Vec<DagNodeJson>,
    pub edges: Vec<EdgeJson>,
}

#[derive(Serialize)]
pub struct DagNodeJson {
    pub name: String,
    pub kind: &'static str,
    pub schedule: Option<&'static str>,
    pub strategy: Option<&'static str>,
}

#[derive(Serialize)]
pub struct EdgeJson {
    pub from: String,
    pub to: String,
}

/// The DAG restricted to `selected`, in the SPEC's JSON shape.
pub fn to_json(project: &Project, dag: &Dag, selected: &BTreeSet<TableName>) -> DagJson {
    let nodes = selected
        .iter()
        .filter_map(|name| project.get(name))
        .map(|node| match node {
            Node::Source(s) => DagNodeJson {
                name: s.name.to_string(),
                kind: "source",
                schedule: None,
                strategy: None,
            },
            Node::Table(t) => DagNodeJson {
                name: t.name.to_string(),
                kind: "table",
                schedule: Some(t.schedule.name()),
                strategy: Some(t.strategy.name()),
            },
        })
        .collect();
    let edges = dag
        .edges()
        .into_iter()
        .filter(|(a, b)| selected.contains(a) && selected.contains(b))
        .map(|(from, to)| EdgeJson {
            from: from.to_string(),
            to: to.to_string(),
        })
        .collect();
    DagJson { nodes, edges }
}

pub fn to_dot(json: &DagJson) -> String {
    let mut out = String::from("digraph derived {\n  rankdir=LR;\n");
    for n in &json.nodes {
        let shape = if n.kind == "source" {
            "cylinder"
        } else {
            "box"
        };
        out.push_str(&format!("  \"{}\" [shape={shape}];\n", n.name));
    }
    for e in &json.edges {
        out.push_str(&format!("  \"{}\" -> \"{}\";\n", e.from, e.to));
    }
    out.push_str("}\n");
    out
}

pub fn to_mermaid(json: &DagJson) -> String {
    let id = |name: &str| name.replace(['.', '-'], "_");
    let mut out = String::from("flowchart LR\n");
    for n in &json.nodes {
        let (open, close) = if n.kind == "source" {
            ("[(", ")]")
        } else {
            ("[", "]")
        };
        out.push_str(&format!("  {}{open}\"{}\"{close}\n", id(&n.name), n.name));
    }
    for e in &json.edges {
        out.push_str(&format!("  {} --> {}\n", id(&e.from), id(&e.to)));
    }
    out
}
