//! A project loaded for a command: its definitions (from the working tree or a
//! git revision), its DAG, and every problem found in them.

use super::{cache, open_metadata, Settings, Stores};
use crate::dag::Dag;
use crate::git;
use crate::project::load::{self, ColumnAnalysis};
use crate::project::{self, Node, Project, TableName};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeSet;

/// A loaded project and its DAG.
pub struct Loaded {
    pub project: Project,
    pub dag: Dag,
    /// The commit the definitions were read from (`--rev`).
    pub git_commit: Option<String>,
    /// Read from the project cache rather than parsed.
    pub from_cache: bool,
}

impl Loaded {
    /// The commit runs record: `--rev`'s, or HEAD when the working tree is clean.
    pub fn commit_of_runs(&self, settings: &Settings) -> Option<String> {
        self.git_commit
            .clone()
            .or_else(|| git::clean_head(&settings.project))
    }

    /// The defined name `text` (typed by a person) refers to, or an error with
    /// a "did you mean".
    pub fn known_name(&self, text: &str) -> Result<TableName> {
        let name = TableName::parse(text).map_err(|e| anyhow!(e))?;
        if let Some(node) = self.project.get(&name) {
            return Ok(node.name().clone());
        }
        let known: Vec<&str> = self
            .project
            .nodes
            .iter()
            .map(|n| n.name().as_str())
            .collect();
        let hint = project::suggest(text, &known)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        bail!("no source or table is named `{text}`{hint}");
    }

    /// The tables a `--select` names (all when None).
    pub fn selection(&self, select: Option<&str>) -> Result<Option<BTreeSet<TableName>>> {
        select
            .map(|s| self.dag.select(&self.project, s).map_err(|e| anyhow!(e)))
            .transpose()
    }

    /// `name`, with everything downstream of it when asked.
    pub fn with_downstream(&self, name: &TableName, downstream: bool) -> BTreeSet<TableName> {
        let mut selection = if downstream {
            self.dag.all_downstream(name)
        } else {
            BTreeSet::new()
        };
        selection.insert(name.clone());
        selection
    }
}

/// Loads the definitions the settings point at; `columns` says how much
/// column lineage to analyse (all of it for `validate`).
pub fn load(settings: &Settings, columns: ColumnAnalysis) -> Result<Loaded> {
    match &settings.rev {
        Some(rev) => {
            let revision = git::at_revision(&settings.project, rev)?;
            Ok(cache::load(
                &settings.project,
                &revision.files,
                columns,
                Some(revision.commit),
            ))
        }
        None => Ok(cache::load(&settings.project, &load::Disk, columns, None)),
    }
}

/// The project's DAG, and the problems only the whole project shows: cycles,
/// policies exposed through column lineage, and `columns:` that disagree with
/// the SQL (when `columns` is `Always`, whose result is these problems: the
/// tables keep no lineage then, and a cached load is that much smaller).
pub fn with_dag(
    mut project: Project,
    git_commit: Option<String>,
    columns: ColumnAnalysis,
) -> Loaded {
    let (dag, problems) = Dag::build(&project);
    let cyclic = !problems.is_empty();
    project.diagnostics.extend(problems);
    let guarded = crate::governance::is_guarded(&project);
    if !cyclic && (guarded || columns == ColumnAnalysis::Always) {
        let lineages = crate::lineage::all_columns(&project);
        let exposed = crate::governance::check(&project, &dag, &lineages);
        project.diagnostics.extend(exposed);
        let taken: Vec<_> = if columns == ColumnAnalysis::Always {
            let mismatches = crate::lineage::column_diagnostics(&project, &lineages);
            project.diagnostics.extend(mismatches);
            project
                .nodes
                .iter_mut()
                .filter_map(|node| match node {
                    Node::Table(table) => table.lineage.take(),
                    Node::Source(_) => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        // Freeing every table's lineage is a walk over thousands of small
        // allocations; nothing waits for it.
        std::thread::spawn(move || drop((lineages, taken)));
    }
    project::diagnostic::sort(&mut project.diagnostics);
    Loaded {
        project,
        dag,
        git_commit,
        from_cache: false,
    }
}

/// [`load_valid`], and the project's stores. An existing DuckDB log opens
/// while the definitions load: from the cache, the two take about as long.
pub fn load_valid_with_stores(settings: &Settings) -> Result<(Loaded, Stores)> {
    let config = project::config::read(&settings.project);
    let early = super::stores::opens_without_side_effects(&config.metadata);
    let (loaded, opened) = std::thread::scope(|scope| {
        let opening = early.then(|| scope.spawn(|| open_metadata(&config.metadata)));
        (load_valid(settings), opening.map(|o| o.join()))
    });
    let loaded = loaded?;
    let metadata = match opened {
        Some(Ok(Ok(metadata))) if loaded.project.config.metadata == config.metadata => metadata,
        _ => open_metadata(&loaded.project.config.metadata)?,
    };
    let stores = super::stores::stores_with(&loaded.project, metadata);
    Ok((loaded, stores))
}

/// Loads the project and refuses to go on when it has errors.
pub fn load_valid(settings: &Settings) -> Result<Loaded> {
    let loaded = load(settings, ColumnAnalysis::WhenGuarded)?;
    if loaded.project.has_errors() {
        let errors: Vec<_> = loaded.project.errors().cloned().collect();
        let text =
            project::diagnostic::render_text(&errors, &loaded.project.files, &loaded.project.root);
        bail!("the project has {} problem(s); fix them first (`derived validate` lists them):\n{text}", errors.len());
    }
    Ok(loaded)
}
