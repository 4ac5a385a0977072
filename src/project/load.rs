//! Loading a project: every `tables/**/*.yml` into typed definitions, in parallel,
//! collecting every problem with its file position.

use super::config::{self, Config};
use super::definition::*;
use super::diagnostic::{self, Diagnostic, SourceFiles};
use super::dialect::SqlDialect;
use super::refs::{self, Extraction, FallbackWarning, FoundBy, SqlSyntaxError};
use super::template::{self, RenderContext, Renderer};
use super::yaml::{suggest, Reader, Scope};
use crate::env::Env;
use crate::project::checks::{Check, CheckSeverity, Rule};
use crate::project::columns::ColumnLineage;
use crate::project::unit_test::{self, UnitTest};
use crate::time::{parse_timestamp, Duration, Schedule};
use rayon::prelude::*;
use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A loaded project: definitions plus every problem found while loading them.
pub struct Project {
    pub root: PathBuf,
    pub config: Config,
    pub nodes: Vec<Node>,
    /// Each node by its name as defined.
    index: foldhash::HashMap<TableName, usize>,
    /// Each node by the dialect's key of its name (SPEC §10.1).
    keys: foldhash::HashMap<String, usize>,
    pub diagnostics: Vec<Diagnostic>,
    pub files: SourceFiles,
    pub renderer: Renderer,
}

impl Project {
    /// The SQL of a table rendered for its first interval, as validation renders it.
    pub fn representative_sql(&self, table: &Table) -> Option<String> {
        let interval = table.schedule.interval_at(table.start);
        let ctx = RenderContext {
            input: table.input_range(interval),
            interval,
            this: table.name.as_str(),
            env: Env::Prod.name(),
            is_first_build: false,
            rows: None,
        };
        self.renderer.render(&table.sql, &ctx).ok()
    }

    /// Per output column, a hash of what defines it (see [`impact`]); None
    /// when the SQL cannot be split by column.
    ///
    /// [`impact`]: crate::project::impact
    pub fn column_fingerprints(&self, table: &Table) -> Option<BTreeMap<String, String>> {
        let sql = self.representative_sql(table)?;
        let settings: Vec<String> = settings(table)
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let mut fingerprints = crate::project::impact::column_fingerprints(
            &sql,
            self.config.dialect,
            &settings.join("\n"),
        )?;
        fingerprints.extend(crate::project::impact::type_entries(
            table
                .columns
                .iter()
                .filter_map(|c| Some((c.name.as_str(), c.data_type.as_deref()?))),
        ));
        Some(fingerprints)
    }

    /// A project made of definitions built in code (tests, generators).
    pub fn from_nodes(root: &Path, config: Config, nodes: Vec<Node>) -> Project {
        let renderer = Renderer::new(config.vars.clone(), config.dialect);
        let files = SourceFiles::default();
        let mut project = Project::unindexed(root, config, renderer, nodes, Vec::new(), files);
        index_and_check_names(&mut project);
        project
    }

    /// A project as an earlier load left it (a cache entry): its definitions
    /// and every problem found in them; `files` holds the texts they point into.
    pub fn restore(
        root: &Path,
        config: Config,
        nodes: Vec<Node>,
        diagnostics: Vec<Diagnostic>,
        files: SourceFiles,
    ) -> Project {
        let renderer = Renderer::new(config.vars.clone(), config.dialect);
        let mut project = Project::unindexed(root, config, renderer, nodes, diagnostics, files);
        project.index_names();
        project
    }

    fn unindexed(
        root: &Path,
        config: Config,
        renderer: Renderer,
        nodes: Vec<Node>,
        diagnostics: Vec<Diagnostic>,
        files: SourceFiles,
    ) -> Project {
        Project {
            root: root.to_path_buf(),
            config,
            nodes,
            index: Default::default(),
            keys: Default::default(),
            diagnostics,
            files,
            renderer,
        }
    }

    fn index_names(&mut self) {
        let dialect = self.config.dialect;
        self.index = self.names_index();
        self.keys = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (dialect.definition_key(n.name().as_str()).into_owned(), i))
            .collect();
    }

    /// Each node's position by its name as defined.
    fn names_index(&self) -> foldhash::HashMap<TableName, usize> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name().clone(), i))
            .collect()
    }

    /// The node of `name`: spelled as defined, or as the dialect would match
    /// it (any case on DuckDB, folded on PostgreSQL, exact on BigQuery).
    pub fn get(&self, name: &TableName) -> Option<&Node> {
        self.index
            .get(name)
            .or_else(|| {
                self.keys
                    .get(&*self.config.dialect.definition_key(name.as_str()))
            })
            .map(|&i| &self.nodes[i])
    }

    /// The defined name that a reference found in SQL (normalized by the
    /// extractor) resolves to, by the dialect's rules.
    pub fn resolve_reference(&self, name: &str) -> Option<&TableName> {
        let key = self.config.dialect.reference_key(name);
        self.keys.get(&*key).map(|&i| self.nodes[i].name())
    }

    /// The defined name that `text` (typed by a person) refers to.
    pub fn resolve(&self, text: &str) -> Option<&TableName> {
        let name = TableName::parse(text).ok()?;
        self.get(&name).map(Node::name)
    }

    pub fn table(&self, name: &TableName) -> Option<&Table> {
        self.get(name).and_then(Node::as_table)
    }

    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.nodes.iter().filter_map(Node::as_table)
    }

    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.nodes.iter().filter_map(Node::as_source)
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

const TABLE_KEYS: [&str; 25] = [
    "timeout",
    "tests",
    "on_change",
    "name",
    "kind",
    "description",
    "owner",
    "schedule",
    "strategy",
    "time_column",
    "start",
    "window",
    "batch_size",
    "unique_key",
    "merge",
    "upstream",
    "depends_on",
    "tags",
    "readers",
    "columns",
    "checks",
    "export",
    "sql",
    "sql_file",
    "freshness",
];
const SOURCE_KEYS: [&str; 10] = [
    "name",
    "kind",
    "description",
    "owner",
    "time_column",
    "location",
    "freshness",
    "columns",
    "stream",
    "tags",
];
const COLUMN_KEYS: [&str; 5] = ["name", "type", "description", "policy", "checks"];

/// Where definition files are read from: the working tree, or a git commit.
pub trait FileSource: Sync {
    fn read(&self, path: &Path) -> std::io::Result<String>;
    /// Every `*.yml`/`*.yaml` file below `dir`, sorted.
    fn definitions(&self, dir: &Path) -> Vec<PathBuf>;
    /// What the file system says of `path` (None: nothing, or not on disk):
    /// equal stamps mean unchanged bytes, unless written within the same
    /// clock tick (see `app::cache`).
    fn stamp(&self, _path: &Path) -> Option<Stamp> {
        None
    }
}

/// Size, inode, and modification and change times (nanoseconds) of a file.
/// Every write moves the change time, which no one can set back.
pub type Stamp = [u64; 4];

/// Files on disk.
pub struct Disk;

impl FileSource for Disk {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn definitions(&self, dir: &Path) -> Vec<PathBuf> {
        definition_files(dir)
    }

    fn stamp(&self, path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        let nanos = |s: i64, ns: i64| {
            (s as u64)
                .wrapping_mul(1_000_000_000)
                .wrapping_add(ns as u64)
        };
        Some([
            m.len(),
            m.ino(),
            nanos(m.mtime(), m.mtime_nsec()),
            nanos(m.ctime(), m.ctime_nsec()),
        ])
    }
}

/// A `*.yml` or `*.yaml` file (not a bare `.yml`), read from the bytes:
/// `Path::extension` parses components, which 10,000 files notice.
fn is_definition(path: &Path) -> bool {
    let path = path.as_os_str().as_encoded_bytes();
    let name = &path[path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..];
    [&b".yml"[..], b".yaml"]
        .iter()
        .any(|ext| name.len() > ext.len() && name.ends_with(ext))
}

/// Files held in memory, keyed by their path under the project root.
pub struct InMemory {
    pub files: HashMap<PathBuf, String>,
}

impl FileSource for InMemory {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "not in this revision")
        })
    }

    fn definitions(&self, dir: &Path) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| p.starts_with(dir) && is_definition(p))
            .cloned()
            .collect();
        paths.sort();
        paths
    }
}

/// Loads `root/derived.yml` and every definition under `root/tables` from disk.
pub fn load(root: &Path) -> Project {
    load_from(root, &Disk)
}

/// What every definition file is read with.
struct Loader<'a> {
    root: &'a Path,
    config: &'a Config,
    renderer: &'a Renderer,
    source: &'a dyn FileSource,
}

/// What a load analyses beyond definitions and dependencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnAnalysis {
    /// Column lineage only where policies must be checked (a table has
    /// `readers` or `export`).
    WhenGuarded,
    /// Every table's column lineage (`validate`).
    Always,
}

/// Loads a project whose files come from `source` (paths under `root`).
pub fn load_from(root: &Path, source: &dyn FileSource) -> Project {
    load_with(root, source, ColumnAnalysis::WhenGuarded)
}

/// Loads a project. Definitions are read first, every file in parallel; then
/// every table's SQL is rendered and parsed in parallel, once: for its
/// dependencies, its fingerprint and (as `columns` asks) its column lineage,
/// computed against the columns its upstreams declare.
pub fn load_with(root: &Path, source: &dyn FileSource, columns: ColumnAnalysis) -> Project {
    let mut files = SourceFiles::default();
    let mut diagnostics = Vec::new();
    let config_path = root.join("derived.yml");
    let config = match source.read(&config_path) {
        Ok(text) => {
            let (config, problems) = config::load(root, &config_path, &text);
            files.add(&config_path, text);
            diagnostics.extend(problems);
            config
        }
        Err(_) => Config::default_for(root),
    };
    let renderer = Renderer::new(config.vars.clone(), config.dialect);
    let paths = source.definitions(&root.join("tables"));
    let loader = Loader {
        root,
        config: &config,
        renderer: &renderer,
        source,
    };
    let loaded: Vec<FileResult> = paths
        .par_iter()
        .map(|path| load_file(path, &loader))
        .collect();
    let mut nodes = Vec::with_capacity(loaded.len());
    let mut analysable = Vec::with_capacity(loaded.len());
    for result in loaded {
        diagnostics.extend(result.diagnostics);
        for (path, text) in result.texts {
            files.add(&path, text);
        }
        if let Some(node) = result.node {
            nodes.push(node);
            analysable.push(result.analysable);
        }
    }
    let lineage = columns == ColumnAnalysis::Always
        || nodes
            .iter()
            .filter_map(Node::as_table)
            .any(|t| !t.readers.is_empty() || !t.exports.is_empty());
    diagnostics.extend(analyse_tables(
        &mut nodes,
        &analysable,
        &files,
        &loader,
        lineage,
    ));
    let mut project = Project::unindexed(root, config, renderer, nodes, diagnostics, files);
    index_and_check_names(&mut project);
    diagnostic::sort(&mut project.diagnostics);
    project
}

/// Every definition below `dir`, in the order of a walk that reads each
/// folder sorted by name. The folders at the top are walked in parallel, and
/// each is sorted once: by its paths' bytes with `/` lowest, which is that
/// order, and cheaper than having the walk compare file names it must first
/// split off each path.
fn definition_files(dir: &Path) -> Vec<PathBuf> {
    // Read directly: a sorted walk limited to the top level would still read
    // and sort every folder it meets there.
    let mut top: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    top.sort();
    top.par_iter()
        .flat_map_iter(|entry| {
            // Not through a link at the top, as the walk of `dir` would not.
            let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(entry)
                .follow_root_links(false)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(walkdir::DirEntry::into_path)
                .filter(|p| is_definition(p))
                .collect();
            paths.sort_by_cached_key(|path| walk_order(path));
            paths
        })
        .collect()
}

/// A path's bytes with every separator lowest, so that a folder's contents
/// sort before a sibling whose name extends the folder's (`b/x` before `b.yml`).
fn walk_order(path: &Path) -> Vec<u8> {
    let bytes = path.as_os_str().as_encoded_bytes();
    bytes
        .iter()
        .map(|&b| if b == b'/' { 0 } else { b })
        .collect()
}

struct FileResult {
    node: Option<Node>,
    /// A table whose SQL could be read, to be analysed once every definition is.
    analysable: bool,
    diagnostics: Vec<Diagnostic>,
    texts: Vec<(PathBuf, String)>,
}

fn load_file(path: &Path, loader: &Loader) -> FileResult {
    let text = match loader.source.read(path) {
        Ok(t) => t,
        Err(e) => {
            let d = Diagnostic::error(
                "unreadable-file",
                path,
                0..0,
                format!("cannot read {}: {e}", path.display()),
            );
            return FileResult {
                node: None,
                analysable: false,
                diagnostics: vec![d],
                texts: Vec::new(),
            };
        }
    };
    let mut reader = Reader::new(path, &text);
    let mut texts = Vec::new();
    let node = parse_definition(&mut reader, loader, &mut texts);
    let diagnostics = reader.diagnostics;
    texts.push((path.to_path_buf(), text));
    FileResult {
        analysable: node
            .as_ref()
            .is_some_and(|n| n.as_table().is_some_and(|t| t.sql_analysable)),
        node,
        diagnostics,
        texts,
    }
}

fn parse_definition(
    r: &mut Reader,
    loader: &Loader,
    texts: &mut Vec<(PathBuf, String)>,
) -> Option<Node> {
    let map = match serde_yaml::from_str::<Value>(r.text) {
        Ok(Value::Mapping(m)) => m,
        Ok(_) => {
            r.error(
                "invalid-type",
                0..0,
                "a definition must be a YAML mapping (`name: ...`, `sql: ...`)",
                None,
            );
            return None;
        }
        Err(e) => {
            let offset = e.location().map_or(0, |l| l.index());
            let message = e.to_string();
            let message = message
                .split(" at line")
                .next()
                .unwrap_or(&message)
                .to_string();
            r.error(
                "yaml-syntax",
                offset..offset,
                format!("YAML syntax error: {message}"),
                Some("check indentation and quoting around this point".into()),
            );
            return None;
        }
    };
    let whole = r.whole();
    let name = r.required_string(&map, whole, "name", "this definition", "dataset.table");
    let name = name.and_then(|n| match TableName::parse(&n) {
        Ok(name) => Some(name),
        Err(message) => {
            let span = r.value_span(whole, "name");
            r.error("invalid-name", span, message, None);
            None
        }
    });
    r.table = name.as_ref().map(ToString::to_string);
    let kind = r.string(&map, whole, "kind");
    match kind.as_deref() {
        Some("source") => {
            r.unknown_keys(&map, whole, &SOURCE_KEYS, "a source");
            let source = parse_source(r, &map, name.clone());
            Some(Node::Source(source?))
        }
        Some("table") | None => {
            r.unknown_keys(&map, whole, &TABLE_KEYS, "a table");
            let table = parse_table(r, &map, name, loader, texts)?;
            Some(Node::Table(Box::new(table)))
        }
        Some(other) => {
            let span = r.value_span(whole, "kind");
            r.error(
                "invalid-kind",
                span,
                format!("unknown kind `{other}`"),
                Some("use `kind: source` for raw data, or leave it out for a table".into()),
            );
            None
        }
    }
}

fn parse_source(r: &mut Reader, map: &Mapping, name: Option<TableName>) -> Option<Source> {
    let whole = r.whole();
    let time_column = r.string(map, whole, "time_column");
    let location = r.mapping(map, whole, "location").map(|loc| {
        let scope = r.nested(whole, "location");
        r.unknown_keys(loc, scope, &["format", "path"], "location");
        let path = r
            .required_string(loc, scope, "path", "location", "data/events/*.parquet")
            .unwrap_or_default();
        let format = r
            .string(loc, scope, "format")
            .unwrap_or_else(|| guess_format(&path));
        if !["parquet", "csv", "json"].contains(&format.as_str()) {
            let span = r.value_span(scope, "format");
            r.error(
                "invalid-format",
                span,
                format!("unknown file format `{format}`"),
                Some("use parquet, csv or json".into()),
            );
        }
        Location { format, path }
    });
    let columns = parse_columns(r, map);
    let stream = r
        .mapping(map, whole, "stream")
        .and_then(|s| parse_stream(r, map, s, &columns, time_column.as_deref()))
        .map(Box::new);
    let (time_column, freshness) = match &stream {
        Some(stream) => (Some(stream.event_time.clone()), Freshness::Marks),
        None if map.contains_key("stream") => (time_column, Freshness::Marks),
        None => {
            let freshness = parse_freshness(r, map, time_column.is_some());
            (time_column, freshness)
        }
    };
    Some(Source {
        name: name?,
        file: r.file.to_path_buf(),
        description: r.string(map, whole, "description"),
        time_column,
        location,
        freshness,
        columns,
        stream,
    })
}

const STREAM_KEYS: [&str; 9] = [
    "broker",
    "url",
    "stream",
    "subjects",
    "partitions",
    "event_id",
    "event_time",
    "format",
    "lateness",
];

/// A source's `stream:` block. The landed table has the declared columns, so
/// every column needs a type, and the event id and time must be among them.
fn parse_stream(
    r: &mut Reader,
    map: &Mapping,
    s: &Mapping,
    columns: &[Column],
    time_column: Option<&str>,
) -> Option<Stream> {
    let whole = r.whole();
    let scope = r.nested(whole, "stream");
    r.unknown_keys(s, scope, &STREAM_KEYS, "stream");
    for key in ["freshness", "location"] {
        if map.contains_key(key) {
            r.error(
                "invalid-stream",
                r.key_span(whole, key),
                format!("a stream source cannot have `{key}`: it is landed by `derived ingest` and complete through the stream watermark"),
                Some(format!("remove `{key}`")),
            );
        }
    }
    let broker = match r.string(s, scope, "broker").as_deref() {
        Some("nats") | None => Some(BrokerKind::Nats),
        Some(other) => {
            r.error(
                "invalid-stream",
                r.value_span(scope, "broker"),
                format!("unknown broker `{other}`"),
                Some("use `broker: nats` (NATS JetStream); other brokers plug in behind the same interface".into()),
            );
            None
        }
    };
    let format = match r.string(s, scope, "format").as_deref() {
        Some("json") | None => Some(PayloadFormat::Json),
        Some(other) => {
            r.error(
                "invalid-stream",
                r.value_span(scope, "format"),
                format!("unknown payload format `{other}`"),
                Some("use `format: json`".into()),
            );
            None
        }
    };
    let url = r.required_string(s, scope, "url", "`stream`", "nats://127.0.0.1:4222");
    let stream = r.required_string(s, scope, "stream", "`stream`", "EVENTS");
    let subjects = r.string_list(s, scope, "subjects");
    if subjects.is_empty() {
        r.error(
            "missing-key",
            r.key_span(whole, "stream"),
            "`stream` needs `subjects`: the subjects to consume",
            Some("add a line like `subjects: [\"events.>\"]`".into()),
        );
    }
    let partitions = match r.string(s, scope, "partitions") {
        None => Some(None),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => Some(Some(n)),
            _ => {
                r.error(
                    "invalid-stream",
                    r.value_span(scope, "partitions"),
                    format!("`partitions` must be a positive whole number, not `{text}`"),
                    Some("write the number of subjects the stream is split over, e.g. `partitions: 4`".into()),
                );
                None
            }
        },
    };
    let event_id = r.required_string(s, scope, "event_id", "`stream`", "event_id");
    let event_time = r.required_string(s, scope, "event_time", "`stream`", "event_ts");
    if let (Some(column), Some(event_time)) = (time_column, &event_time) {
        if column != event_time {
            r.error(
                "invalid-stream",
                r.value_span(whole, "time_column"),
                format!("`time_column` is `{column}` but the stream's event time is `{event_time}`: the watermark follows the event time"),
                Some(format!("write `time_column: {event_time}`, or leave it out")),
            );
        }
    }
    let lateness = match r.string(s, scope, "lateness") {
        Some(text) => zero_or_longer(r, scope, "lateness", &text),
        None => Some(Duration::from_seconds(0)),
    };
    for (key, field) in [("event_id", &event_id), ("event_time", &event_time)] {
        let Some(field) = field else { continue };
        if !columns.iter().any(|c| &c.name == field) {
            r.error(
                "invalid-stream",
                r.value_span(scope, key),
                format!("`{field}` is not among the source's columns"),
                Some(format!("add `- {{name: {field}, type: ...}}` under `columns`: the landed table has exactly the declared columns")),
            );
        }
    }
    if let Some(untyped) = columns.iter().find(|c| c.data_type.is_none()) {
        r.error(
            "invalid-stream",
            r.key_span(whole, "columns"),
            format!("column `{}` of a stream source has no `type`", untyped.name),
            Some("give every column a type (e.g. `type: BIGINT`): payload fields are cast to it when landed".into()),
        );
    }
    Some(Stream {
        broker: broker?,
        url: url?,
        stream: stream?,
        subjects,
        partitions: partitions?,
        event_id: event_id?,
        event_time: event_time?,
        format: format?,
        lateness: lateness?,
    })
}

fn guess_format(path: &str) -> String {
    let lower = path.to_ascii_lowercase();
    if lower.contains(".csv") {
        "csv".into()
    } else if lower.contains(".json") {
        "json".into()
    } else {
        "parquet".into()
    }
}

fn parse_freshness(r: &mut Reader, map: &Mapping, has_time_column: bool) -> Freshness {
    let whole = r.whole();
    let Some(f) = r.mapping(map, whole, "freshness") else {
        if !has_time_column {
            r.error("missing-time-column", r.key_span(whole, "name"), "a source with `max_time` freshness (the default) needs `time_column`", Some("add `time_column: <timestamp column>`, or `freshness: {method: marks}` / `{method: always}`".into()));
        }
        return Freshness::MaxTime {
            lag: Duration::from_seconds(0),
        };
    };
    let scope = r.nested(whole, "freshness");
    r.unknown_keys(f, scope, &["method", "lag"], "freshness");
    let lag = match r.string(f, scope, "lag") {
        Some(text) => zero_or_longer(r, scope, "lag", &text),
        None => Some(Duration::from_seconds(0)),
    }
    .unwrap_or(Duration::from_seconds(0));
    match r.string(f, scope, "method").as_deref() {
        Some("max_time") | None => {
            if !has_time_column {
                r.error(
                    "missing-time-column",
                    r.key_span(whole, "freshness"),
                    "`max_time` freshness needs `time_column`",
                    Some("add `time_column: <timestamp column>`".into()),
                );
            }
            Freshness::MaxTime { lag }
        }
        Some("marks") => Freshness::Marks,
        Some("always") => Freshness::Always,
        Some(other) => {
            let span = r.value_span(scope, "method");
            let help = suggest(other, &["max_time", "marks", "always"])
                .map_or("use max_time, marks or always".to_string(), |s| {
                    format!("did you mean `{s}`?")
                });
            r.error(
                "invalid-freshness",
                span,
                format!("unknown freshness method `{other}`"),
                Some(help),
            );
            Freshness::MaxTime { lag }
        }
    }
}

fn duration(r: &mut Reader, scope: Scope, key: &str, text: &str) -> Option<Duration> {
    checked_duration(r, scope, key, Duration::parse(text))
}

/// A duration where zero means none.
fn zero_or_longer(r: &mut Reader, scope: Scope, key: &str, text: &str) -> Option<Duration> {
    checked_duration(r, scope, key, Duration::parse_allowing_zero(text))
}

fn checked_duration(
    r: &mut Reader,
    scope: Scope,
    key: &str,
    parsed: Result<Duration, String>,
) -> Option<Duration> {
    match parsed {
        Ok(d) => Some(d),
        Err(message) => {
            let span = r.value_span(scope, key);
            r.error(
                "invalid-duration",
                span,
                format!("`{key}`: {message}"),
                Some("durations look like 15m, 1h, 1d or 7d".into()),
            );
            None
        }
    }
}

fn parse_columns(r: &mut Reader, map: &Mapping) -> Vec<Column> {
    parse_columns_and_checks(r, map).0
}

/// Columns, plus the checks written on them.
fn parse_columns_and_checks(r: &mut Reader, map: &Mapping) -> (Vec<Column>, Vec<Check>) {
    let whole = r.whole();
    let items = match map.get("columns") {
        None | Some(Value::Null) => return (Vec::new(), Vec::new()),
        Some(Value::Sequence(items)) => items,
        Some(_) => {
            let span = r.value_span(whole, "columns");
            r.error(
                "invalid-type",
                span,
                "`columns` must be a list of `{name: ..., type: ...}`",
                None,
            );
            return (Vec::new(), Vec::new());
        }
    };
    let scope = r.nested(whole, "columns");
    let scopes = r.items(scope, items.len());
    let mut columns = Vec::with_capacity(items.len());
    let mut checks = Vec::new();
    for (item, scope) in items.iter().zip(scopes) {
        let Some(m) = item.as_mapping() else {
            r.error(
                "invalid-type",
                scope.start..scope.start,
                "each column must be a mapping like `{name: id, type: BIGINT}`",
                None,
            );
            continue;
        };
        r.unknown_keys(m, scope, &COLUMN_KEYS, "a column");
        let Some(name) = r.required_string(m, scope, "name", "a column", "user_id") else {
            continue;
        };
        if let Some(list) = m.get("checks") {
            checks.extend(parse_checks(r, list, scope, Some(&name)));
        }
        columns.push(Column {
            name,
            data_type: r.string(m, scope, "type"),
            description: r.string(m, scope, "description"),
            policy: r.string(m, scope, "policy"),
        });
    }
    (columns, checks)
}

const CHECK_KINDS: [&str; 8] = [
    "not_null",
    "unique",
    "accepted_values",
    "range",
    "relationship",
    "row_count",
    "sql",
    "freshness",
];

/// A `checks:` list, on a column (`column` given) or on the table.
fn parse_checks(r: &mut Reader, list: &Value, scope: Scope, column: Option<&str>) -> Vec<Check> {
    let span = r.key_span(scope, "checks");
    let Some(items) = list.as_sequence() else {
        r.error(
            "invalid-check",
            span,
            "`checks` must be a list, like `[not_null, {range: {min: 0}}]`",
            None,
        );
        return Vec::new();
    };
    let mut checks = Vec::new();
    for item in items {
        match parse_check(item, column) {
            Ok(check) => checks.push(check),
            Err(message) => r.error(
                "invalid-check",
                span.clone(),
                message,
                Some(format!("checks are {}", CHECK_KINDS.join(", "))),
            ),
        }
    }
    checks
}

fn parse_check(item: &Value, column: Option<&str>) -> Result<Check, String> {
    let (kind, body, severity) = match item {
        Value::String(kind) => (kind.as_str(), &Value::Null, CheckSeverity::Error),
        Value::Mapping(m) => {
            let severity = match m.get("severity").and_then(Value::as_str) {
                None | Some("error") => CheckSeverity::Error,
                Some("warn") => CheckSeverity::Warn,
                Some(other) => {
                    return Err(format!("unknown severity `{other}`; use error or warn"))
                }
            };
            let mut kinds = m
                .iter()
                .filter_map(|(k, v)| k.as_str().filter(|k| *k != "severity").map(|k| (k, v)));
            let Some((kind, body)) = kinds.next() else {
                return Err("a check needs a kind, like `{not_null: [...]}`".into());
            };
            if let Some((extra, _)) = kinds.next() {
                return Err(format!(
                    "one check per item: `{kind}` and `{extra}` are in the same item"
                ));
            }
            (kind, body, severity)
        }
        _ => {
            return Err("a check is a name (`not_null`) or a mapping (`{range: {min: 0}}`)".into())
        }
    };
    let columns = |body: &Value| -> Result<Vec<String>, String> {
        match (body, column) {
            (Value::Null | Value::Bool(true), Some(c)) => Ok(vec![c.to_string()]),
            (Value::String(c), _) => Ok(vec![c.clone()]),
            (Value::Sequence(items), _) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{kind}` takes column names"))
                })
                .collect(),
            _ => Err(format!(
                "`{kind}` on a table needs its columns, like `{{{kind}: [a, b]}}`"
            )),
        }
    };
    let this_column = || {
        column
            .map(str::to_string)
            .ok_or_else(|| format!("`{kind}` belongs on a column (under `columns:`)"))
    };
    let bound = |key: &str| {
        body.get(key)
            .map(|v| {
                crate::project::checks::literal(v)
                    .ok_or_else(|| format!("`{kind}.{key}` must be a number or a string"))
            })
            .transpose()
    };
    let count = |key: &str| {
        body.get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| format!("`{kind}.{key}` must be a whole number"))
            })
            .transpose()
    };
    let rule = match kind {
        "not_null" => Rule::NotNull(columns(body)?),
        "unique" => Rule::Unique(columns(body)?),
        "accepted_values" => {
            let values = body
                .as_sequence()
                .ok_or("`accepted_values` takes a list of values")?;
            let values = values
                .iter()
                .map(|v| {
                    crate::project::checks::literal(v)
                        .ok_or("accepted values must be numbers or strings")
                })
                .collect::<Result<Vec<_>, _>>()?;
            Rule::AcceptedValues {
                column: this_column()?,
                values,
            }
        }
        "range" => {
            let (min, max) = (bound("min")?, bound("max")?);
            if min.is_none() && max.is_none() {
                return Err("`range` needs `min`, `max` or both".into());
            }
            Rule::Range {
                column: this_column()?,
                min,
                max,
            }
        }
        "relationship" => {
            let table = body
                .get("table")
                .and_then(Value::as_str)
                .ok_or("`relationship` needs `table` (the upstream that holds every value)")?;
            let to = body
                .get("column")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| column.map(str::to_string))
                .ok_or("`relationship` needs `column`")?;
            Rule::Relationship {
                column: this_column()?,
                table: TableName::parse(table)?,
                to,
            }
        }
        "row_count" => Rule::RowCount {
            min: count("min")?,
            max: count("max")?,
        },
        "sql" => Rule::Sql(
            body.as_str()
                .ok_or("`sql` takes a query that returns the offending rows of {{ rows }}")?
                .to_string(),
        ),
        "freshness" => {
            let lag = body
                .get("max_lag")
                .and_then(Value::as_str)
                .ok_or("`freshness` needs `max_lag`, like `{max_lag: 2h}`")?;
            Rule::Freshness {
                max_lag: Duration::parse(lag)?,
            }
        }
        other => {
            let hint = suggest(other, &CHECK_KINDS)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(format!("unknown check `{other}`{hint}"));
        }
    };
    Ok(Check { rule, severity })
}

fn parse_table(
    r: &mut Reader,
    map: &Mapping,
    name: Option<TableName>,
    loader: &Loader,
    texts: &mut Vec<(PathBuf, String)>,
) -> Option<Table> {
    let (config, source) = (loader.config, loader.source);
    let whole = r.whole();
    let schedule_text = r.required_string(map, whole, "schedule", "a table", "daily");
    let schedule = schedule_text.and_then(|s| match Schedule::parse(&s) {
        Some(s) => Some(s),
        None => {
            let span = r.value_span(whole, "schedule");
            let help = suggest(&s, &Schedule::ALL)
                .map_or("use hourly, daily, weekly or monthly".to_string(), |x| {
                    format!("did you mean `{x}`?")
                });
            r.error(
                "invalid-schedule",
                span,
                format!("unknown schedule `{s}`"),
                Some(help),
            );
            None
        }
    });
    let strategy = match r.string(map, whole, "strategy") {
        None => Some(Strategy::Replace),
        Some(s) => Strategy::parse(&s).or_else(|| {
            let span = r.value_span(whole, "strategy");
            let help = suggest(&s, &Strategy::ALL)
                .map_or("use replace, append or merge".to_string(), |x| {
                    format!("did you mean `{x}`?")
                });
            r.error(
                "invalid-strategy",
                span,
                format!("unknown strategy `{s}`"),
                Some(help),
            );
            None
        }),
    };
    let on_change = match r.string(map, whole, "on_change") {
        None => OnChange::Rebuild,
        Some(text) => OnChange::parse(&text).unwrap_or_else(|| {
            let span = r.value_span(whole, "on_change");
            r.error(
                "invalid-on-change",
                span,
                format!("unknown `on_change: {text}`"),
                Some("use `rebuild` (the default) or `forward`".into()),
            );
            OnChange::Rebuild
        }),
    };
    if on_change == OnChange::Forward && strategy == Some(Strategy::Replace) {
        let span = r.value_span(whole, "on_change");
        r.error(
            "forward-needs-intervals",
            span,
            "`on_change: forward` keeps built intervals, and a replace table has none: each run rewrites it whole",
            Some("use `strategy: append` or `merge`, or remove `on_change`".into()),
        );
    }
    let start = r
        .required_string(map, whole, "start", "a table", "2024-01-01")
        .and_then(|s| match parse_timestamp(&s) {
            Ok(t) => Some(t),
            Err(message) => {
                let span = r.value_span(whole, "start");
                r.error("invalid-start", span, message, None);
                None
            }
        });
    if let (Some(sched), Some(t)) = (schedule, start) {
        if !sched.is_aligned(t) {
            let span = r.value_span(whole, "start");
            r.error(
                "start-not-aligned",
                span,
                format!(
                    "`start` {} is not on the {} grid",
                    crate::time::format_ts(t),
                    sched.name()
                ),
                Some(format!("use {}", crate::time::format_ts(sched.floor(t)))),
            );
        }
    }
    let window = r
        .string(map, whole, "window")
        .and_then(|w| duration(r, whole, "window", &w));
    let batch_size = r
        .string(map, whole, "batch_size")
        .and_then(|b| match b.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let span = r.value_span(whole, "batch_size");
                r.error(
                    "invalid-batch-size",
                    span,
                    format!("`batch_size` must be a positive whole number, not `{b}`"),
                    None,
                );
                None
            }
        });
    let timeout = r
        .string(map, whole, "timeout")
        .and_then(|t| duration(r, whole, "timeout", &t))
        .or(config.default_timeout);
    let time_column = r.string(map, whole, "time_column");
    let unique_key = r.string_list(map, whole, "unique_key");
    let merge = parse_merge_rules(r, map, &unique_key);
    match strategy {
        Some(Strategy::Append) if time_column.is_none() => {
            r.error("missing-time-column", r.value_span(whole, "strategy"), "an append table needs `time_column`: the output column that places each row in an interval", Some("add `time_column: <column>`".into()));
        }
        Some(Strategy::Merge) if unique_key.is_empty() => {
            r.error(
                "missing-unique-key",
                r.value_span(whole, "strategy"),
                "a merge table needs `unique_key`: the columns that identify a row",
                Some("add `unique_key: [id]`".into()),
            );
        }
        _ => {}
    }
    let any_freshness = parse_upstream_overrides(r, map);
    let depends_on = r
        .string_list(map, whole, "depends_on")
        .into_iter()
        .filter_map(|d| match TableName::parse(&d) {
            Ok(n) => Some(n),
            Err(message) => {
                let span = r.value_span(whole, "depends_on");
                r.error("invalid-name", span, message, None);
                None
            }
        })
        .collect();
    let (columns, mut checks) = parse_columns_and_checks(r, map);
    if let Some(list) = map.get("checks") {
        checks.extend(parse_checks(r, list, whole, None));
    }
    check_columns_exist(r, &columns, &checks);
    let tests = match map.get("tests") {
        Some(list) => parse_tests(r, list, schedule, loader),
        None => Vec::new(),
    };
    let exports = parse_exports(r, map, config, &columns);
    let sql = read_sql(r, map, source, texts);
    // A definition with a bad key still takes its place in the DAG, so its own
    // references are checked and its readers see it; the error already
    // reported keeps the project from running.
    let name = name?;
    let schedule = schedule.unwrap_or(Schedule::Daily);
    let start = start.unwrap_or_else(|| schedule.floor(crate::time::Timestamp::UNIX_EPOCH));
    let strategy = strategy.unwrap_or(Strategy::Replace);
    let analysable = sql.is_some();
    let (sql, sql_path, sql_origin) =
        sql.unwrap_or_else(|| (String::new(), r.file.to_path_buf(), SqlOrigin::File));
    let mut table = Table {
        name,
        file: r.file.to_path_buf(),
        description: r.string(map, whole, "description"),
        owner: r.string(map, whole, "owner"),
        schedule,
        strategy,
        on_change,
        time_column,
        start,
        window,
        batch_size,
        timeout,
        unique_key,
        merge,
        any_freshness,
        depends_on,
        tags: r.string_list(map, whole, "tags"),
        readers: r.string_list(map, whole, "readers"),
        columns,
        checks,
        tests,
        exports,
        sql,
        sql_path,
        sql_origin,
        upstreams: Vec::new(),
        reference_offsets: Vec::new(),
        fingerprint: String::new(),
        lineage: None,
        sql_analysable: false,
    };
    table.upstreams = table.depends_on.clone();
    table.sql_analysable = analysable;
    Some(table)
}

fn parse_exports(
    r: &mut Reader,
    map: &Mapping,
    config: &Config,
    columns: &[Column],
) -> Vec<Export> {
    let whole = r.whole();
    let Some(list) = map.get("export") else {
        return Vec::new();
    };
    let span = r.key_span(whole, "export");
    let Some(items) = list.as_sequence() else {
        r.error(
            "invalid-export",
            span,
            "`export` must be a list, like `[{to: redis, key: [user_id]}]`",
            None,
        );
        return Vec::new();
    };
    let mut exports = Vec::new();
    for item in items {
        let Some(m) = item.as_mapping() else {
            r.error(
                "invalid-export",
                span.clone(),
                "each export is a mapping like `{to: redis, key: [user_id]}`",
                None,
            );
            continue;
        };
        let scope = Scope {
            start: span.start,
            end: r.text.len(),
        };
        r.unknown_keys(m, scope, &["to", "key", "ttl", "bucket"], "an export");
        let to = m
            .get("to")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !config.stores.contains_key(&to) {
            let known: Vec<&str> = config.stores.keys().map(String::as_str).collect();
            r.error(
                "unknown-store",
                span.clone(),
                format!("export to `{to}`, which is not a store in derived.yml"),
                Some(format!(
                    "stores: {}",
                    if known.is_empty() {
                        "none (add `stores:` to derived.yml)".into()
                    } else {
                        known.join(", ")
                    }
                )),
            );
        }
        let key = r.string_list(m, scope, "key");
        if key.is_empty() {
            r.error(
                "invalid-export",
                span.clone(),
                format!("export to `{to}` needs `key`: the columns that identify a row"),
                None,
            );
        }
        for k in &key {
            if !columns.is_empty() && !columns.iter().any(|c| &c.name == k) {
                r.error(
                    "invalid-export",
                    span.clone(),
                    format!("export key `{k}` is not a declared column"),
                    None,
                );
            }
        }
        let ttl = r
            .string(m, scope, "ttl")
            .and_then(|t| duration(r, scope, "ttl", &t));
        let bucket = r
            .string(m, scope, "bucket")
            .and_then(|t| duration(r, scope, "bucket", &t));
        exports.push(Export {
            to,
            key,
            ttl,
            bucket,
        });
    }
    exports
}

/// A table's `tests:`; a `{csv: path}` fixture is read relative to the
/// definition's folder, else to the project root.
fn parse_tests(
    r: &mut Reader,
    list: &Value,
    schedule: Option<Schedule>,
    loader: &Loader,
) -> Vec<UnitTest> {
    let folder = r.file.parent().unwrap_or(loader.root).to_path_buf();
    let mut read_csv = |path: &str| -> Result<Vec<unit_test::Row>, String> {
        let beside = folder.join(path);
        let text = loader
            .source
            .read(&beside)
            .or_else(|_| loader.source.read(&loader.root.join(path)))
            .map_err(|e| {
                format!("cannot read the fixture `{path}` ({e}); it is looked for beside this file, then in the project folder")
            })?;
        unit_test::csv_rows(&text).map_err(|e| format!("fixture `{path}`: {e}"))
    };
    unit_test::parse(r, list, schedule, &mut read_csv)
}

/// Checks may only name declared columns (when the table declares any).
fn check_columns_exist(r: &mut Reader, columns: &[Column], checks: &[Check]) {
    if columns.is_empty() || checks.is_empty() {
        return;
    }
    for (check, name) in checks.iter().zip(crate::project::checks::names(checks)) {
        for c in check.columns() {
            if !columns.iter().any(|d| d.name == c) {
                let names: Vec<&str> = columns.iter().map(|d| d.name.as_str()).collect();
                let help = suggest(c, &names).map_or_else(
                    || format!("declared columns: {}", names.join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
                let span = r.key_span(r.whole(), "checks");
                r.error(
                    "unknown-check-column",
                    span,
                    format!("check {} names `{c}`, which is not a declared column", name),
                    Some(help),
                );
            }
        }
    }
}

fn parse_merge_rules(
    r: &mut Reader,
    map: &Mapping,
    unique_key: &[String],
) -> BTreeMap<String, MergeRule> {
    let whole = r.whole();
    let Some(m) = r.mapping(map, whole, "merge") else {
        return BTreeMap::new();
    };
    let scope = r.nested(whole, "merge");
    let mut rules = BTreeMap::new();
    for (column, rule) in m {
        let (Some(column), Some(rule)) = (column.as_str(), rule.as_str()) else {
            continue;
        };
        match MergeRule::parse(rule) {
            Some(_) if unique_key.iter().any(|k| k == column) => {
                let span = r.key_span(scope, column);
                r.error(
                    "merge-rule-on-key",
                    span,
                    format!("`{column}` is part of `unique_key`; key columns take no merge rule"),
                    None,
                );
            }
            Some(parsed) => {
                rules.insert(column.to_string(), parsed);
            }
            None => {
                let span = r.value_span(scope, column);
                let help = suggest(rule, &MergeRule::ALL)
                    .map_or("use min, max, overwrite, keep or sum".to_string(), |x| {
                        format!("did you mean `{x}`?")
                    });
                r.error(
                    "invalid-merge-rule",
                    span,
                    format!("unknown merge rule `{rule}` for `{column}`"),
                    Some(help),
                );
            }
        }
    }
    rules
}

fn parse_upstream_overrides(r: &mut Reader, map: &Mapping) -> BTreeSet<TableName> {
    let whole = r.whole();
    let Some(m) = r.mapping(map, whole, "upstream") else {
        return BTreeSet::new();
    };
    let scope = r.nested(whole, "upstream");
    let mut any = BTreeSet::new();
    for (name, setting) in m {
        let Some(name) = name.as_str() else { continue };
        let freshness = setting.get("freshness").and_then(Value::as_str);
        match (TableName::parse(name), freshness) {
            (Ok(n), Some("any")) => {
                any.insert(n);
            }
            (Ok(_), Some("complete") | None) => {}
            (Err(message), _) => {
                let span = r.key_span(scope, name);
                r.error("invalid-name", span, message, None);
            }
            (Ok(_), Some(other)) => {
                let span = r.key_span(scope, name);
                r.error(
                    "invalid-freshness",
                    span,
                    format!("unknown upstream freshness `{other}`"),
                    Some(
                        "use `freshness: any` (any successful build suffices) or `complete`".into(),
                    ),
                );
            }
        }
    }
    any
}

fn read_sql(
    r: &mut Reader,
    map: &Mapping,
    source: &dyn FileSource,
    texts: &mut Vec<(PathBuf, String)>,
) -> Option<(String, PathBuf, SqlOrigin)> {
    let whole = r.whole();
    let inline = r.string(map, whole, "sql");
    let file = r.string(map, whole, "sql_file");
    match (inline, file) {
        (Some(_), Some(_)) => {
            r.error(
                "sql-twice",
                r.key_span(whole, "sql_file"),
                "a table has either `sql` or `sql_file`, not both",
                None,
            );
            None
        }
        (None, None) => {
            r.error(
                "missing-key",
                0..0,
                "a table is missing its query: add `sql: |` with a SELECT, or `sql_file: name.sql`",
                None,
            );
            None
        }
        (Some(sql), None) => Some((
            sql,
            r.file.to_path_buf(),
            sql_origin(r.text, r.key_span(whole, "sql")),
        )),
        (None, Some(rel)) => {
            let path = r.file.parent().unwrap_or(Path::new(".")).join(&rel);
            match source.read(&path) {
                Ok(sql) => {
                    texts.push((path.clone(), sql.clone()));
                    Some((sql, path, SqlOrigin::File))
                }
                Err(e) => {
                    let span = r.value_span(whole, "sql_file");
                    r.error(
                        "missing-sql-file",
                        span,
                        format!(
                            "cannot read `{rel}` ({e}); `sql_file` is relative to this YAML file"
                        ),
                        None,
                    );
                    None
                }
            }
        }
    }
}

fn sql_origin(text: &str, key: std::ops::Range<usize>) -> SqlOrigin {
    let line_end = text[key.end..]
        .find('\n')
        .map_or(text.len(), |i| key.end + i);
    let after = text[key.end..line_end].trim_start_matches(':');
    let value = after.trim();
    if value.starts_with('|') || value.starts_with('>') {
        let first_line = (line_end + 1).min(text.len());
        let indent = text[first_line..]
            .split('\n')
            .find(|l| !l.trim().is_empty())
            .map_or(0, |l| l.len() - l.trim_start().len());
        return SqlOrigin::Block { first_line, indent };
    }
    let offset = line_end - after.len() + (after.len() - after.trim_start().len());
    let quoted = value.starts_with('"') || value.starts_with('\'');
    SqlOrigin::Inline {
        offset: offset + usize::from(quoted),
    }
}

/// Maps a byte offset in the (unrendered) SQL to a byte offset in the file that holds it.
pub fn sql_offset_in_file(table: &Table, file_text: &str, offset: usize) -> usize {
    match table.sql_origin {
        SqlOrigin::File => offset,
        SqlOrigin::Inline { offset: start } => start + offset,
        SqlOrigin::Block { first_line, indent } => {
            let before = &table.sql[..offset.min(table.sql.len())];
            let line = before.matches('\n').count();
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
            let mut at = first_line;
            for _ in 0..line {
                at = file_text[at..]
                    .find('\n')
                    .map_or(file_text.len(), |i| at + i + 1);
            }
            let line_text = &file_text[at..file_text[at..]
                .find('\n')
                .map_or(file_text.len(), |i| at + i)];
            let pad = indent.min(line_text.len() - line_text.trim_start().len());
            (at + pad + column).min(file_text.len())
        }
    }
}

/// Analyses every readable table's SQL, in parallel; `lineage` adds column
/// lineage against the columns the upstreams declare.
fn analyse_tables(
    nodes: &mut [Node],
    analysable: &[bool],
    files: &SourceFiles,
    loader: &Loader,
    lineage: bool,
) -> Vec<Diagnostic> {
    let dialect = loader.config.dialect;
    let declared: HashMap<String, Vec<String>> = nodes
        .iter()
        .filter(|n| !n.columns().is_empty())
        .map(|n| {
            let key = dialect.definition_key(n.name().as_str()).into_owned();
            (key, n.columns().iter().map(|c| c.name.clone()).collect())
        })
        .collect();
    let columns_of = |written: &str| declared.get(&*dialect.reference_key(written)).cloned();
    let columns_of: Option<refs::ColumnsOf> = lineage.then_some(&columns_of);
    let tests = unit_test::Context {
        dialect,
        declared: &declared,
    };
    nodes
        .par_iter_mut()
        .zip(analysable)
        .filter(|(_, &analysable)| analysable)
        .filter_map(|(node, _)| match node {
            Node::Table(table) => Some(table),
            Node::Source(_) => None,
        })
        .flat_map_iter(|table| {
            let file = table.file.clone();
            let mut r = Reader::new(&file, files.text(&file).unwrap_or_default());
            r.table = Some(table.name.to_string());
            if analyse_sql(&mut r, table, loader, files, columns_of) {
                unit_test::check(&mut r, table, &tests);
            }
            r.diagnostics
        })
        .collect()
}

/// Renders and parses a table's SQL: its upstreams, fingerprint and lineage.
/// False when the SQL could not be rendered or parsed (the error is reported).
fn analyse_sql(
    r: &mut Reader,
    table: &mut Table,
    loader: &Loader,
    files: &SourceFiles,
    columns_of: Option<refs::ColumnsOf>,
) -> bool {
    let (config, renderer) = (loader.config, loader.renderer);
    let interval = table.schedule.interval_at(table.start);
    let ctx = RenderContext {
        input: table.input_range(interval),
        interval,
        this: table.name.as_str(),
        env: Env::Prod.name(),
        is_first_build: false,
        rows: None,
    };
    let yaml_text: &str = r.text;
    let file_text: &str = match table.sql_origin {
        SqlOrigin::File => files.text(&table.sql_path).unwrap_or_default(),
        _ => yaml_text,
    };
    let rendered = match renderer.render(&table.sql, &ctx) {
        Ok(s) => s,
        Err(e) => {
            let offset = e
                .span
                .map(|s| s.start)
                .or_else(|| e.line.map(|l| line_offset(&table.sql, l)))
                .unwrap_or(0);
            let at = sql_offset_in_file(table, file_text, offset);
            push_sql_error(r, table, "template-error", at, e.message, Some("template variables are start, end, start_date, end_date, interval_start, interval_end, this, env, is_first_build and var('name')".into()));
            return false;
        }
    };
    let (extraction, lineage) = match extract(&rendered, config, columns_of) {
        Ok(x) => x,
        Err(e) => {
            let offset = template::map_to_template(&table.sql, &rendered, e.offset);
            let at = sql_offset_in_file(table, file_text, offset);
            push_sql_error(
                r,
                table,
                "sql-syntax",
                at,
                format!("SQL syntax error: {}", e.message),
                Some(format!("the SQL is parsed as {}", config.dialect.name())),
            );
            return false;
        }
    };
    if let Some(w) = &extraction.fallback_warning {
        let offset = template::map_to_template(&table.sql, &rendered, w.offset);
        let at = sql_offset_in_file(table, file_text, offset);
        let mut d = Diagnostic::warning("sql-fallback", &table.sql_path, at..at, w.message.clone())
            .for_table(table.name.as_str());
        d.help = Some(match w.found_by {
            FoundBy::TokenScan => "dependencies come from a token scan (add `depends_on` if one is missing); column lineage is unknown, so every column carries every policy of the columns the table reads".into(),
            FoundBy::Warehouse => "column lineage is unknown, so every column carries every policy of the columns the table reads".into(),
        });
        r.diagnostics.push(d);
    }
    (table.upstreams, table.reference_offsets) =
        upstreams(r, table, &extraction, &rendered, file_text);
    table.lineage = lineage;
    for check in &table.checks {
        if let Rule::Sql(sql) = &check.rule {
            let ctx = RenderContext {
                rows: Some(crate::project::checks::ROWS),
                ..ctx
            };
            if let Err(e) = renderer.render(sql, &ctx) {
                let span = r.key_span(r.whole(), "checks");
                r.error(
                    "invalid-check",
                    span,
                    format!("sql check: {}", e.message),
                    Some("a sql check reads `{{ rows }}`, the rows the run produced".into()),
                );
            }
        }
    }
    table.fingerprint = fingerprint(table, &extraction.normalized);
    true
}

/// The tables a rendered query reads. sqlparser decides first; when it cannot
/// parse DuckDB SQL, DuckDB's own parser is the authority: its syntax error is
/// the error, and its tree gives the tables. The token scan is the last resort.
fn extract(
    rendered: &str,
    config: &Config,
    columns_of: Option<refs::ColumnsOf>,
) -> Result<(Extraction, Option<ColumnLineage>), SqlSyntaxError> {
    let first = refs::extract_with_lineage(
        rendered,
        config.dialect,
        config.default_project(),
        columns_of,
    );
    let parsed = matches!(&first, Ok((x, _)) if x.fallback_warning.is_none());
    if parsed || config.dialect != SqlDialect::DuckDb {
        return first;
    }
    let first = first.map(|(x, _)| x);
    let (parser_message, offset) = match &first {
        Ok(x) => x
            .fallback_warning
            .as_ref()
            .map_or((String::new(), 0), |w| (w.parser_message.clone(), w.offset)),
        Err(e) => (e.message.clone(), e.offset),
    };
    match warehouse_parser(rendered) {
        None => first.map(|x| (x, None)),
        Some(Err(error)) => Err(error),
        Some(Ok(references)) => Ok(Extraction {
            references,
            normalized: first.map_or_else(
                |_| rendered.split_whitespace().collect::<Vec<_>>().join(" "),
                |x| x.normalized,
            ),
            fallback_warning: Some(FallbackWarning {
                message: format!("sqlparser cannot parse this statement ({parser_message}); DuckDB's parser found the tables it reads, but not its column lineage"),
                found_by: FoundBy::Warehouse,
                parser_message,
                offset,
            }),
        })
        .map(|x| (x, None)),
    }
}

#[cfg(feature = "duckdb")]
fn warehouse_parser(sql: &str) -> Option<Result<Vec<refs::Reference>, SqlSyntaxError>> {
    super::duckdb_parser::references(sql)
}

#[cfg(not(feature = "duckdb"))]
fn warehouse_parser(_sql: &str) -> Option<Result<Vec<refs::Reference>, SqlSyntaxError>> {
    None
}

fn line_offset(text: &str, line: usize) -> usize {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

fn push_sql_error(
    r: &mut Reader,
    table: &Table,
    code: &'static str,
    at: usize,
    message: String,
    help: Option<String>,
) {
    let mut d =
        Diagnostic::error(code, &table.sql_path, at..at, message).for_table(table.name.as_str());
    d.help = help;
    r.diagnostics.push(d);
}

/// Names the SQL reads (minus its own name, read through `{{ this }}`) plus
/// `depends_on`, as written; and where the SQL names each one.
fn upstreams(
    r: &mut Reader,
    table: &Table,
    extraction: &Extraction,
    rendered: &str,
    sql_file_text: &str,
) -> (Vec<TableName>, Vec<(TableName, usize)>) {
    let mut names = BTreeSet::new();
    let mut offsets = Vec::new();
    for reference in &extraction.references {
        if reference.is_information_schema() {
            continue;
        }
        let name = TableName::from_reference(&reference.name);
        if name == table.name {
            if !reads_this(&table.sql) {
                let offset = template::map_to_template(&table.sql, rendered, reference.span.start);
                let at = sql_offset_in_file(table, sql_file_text, offset);
                push_sql_error(
                    r,
                    table,
                    "self-reference",
                    at,
                    format!("`{}` reads itself by name", table.name),
                    Some("write `{{ this }}` to read the table's own previous data".into()),
                );
            }
            continue;
        }
        offsets.push((name.clone(), reference.span.start));
        names.insert(name);
    }
    names.extend(table.depends_on.iter().cloned());
    for check in &table.checks {
        if let Rule::Relationship { table: target, .. } = &check.rule {
            names.insert(target.clone());
        }
    }
    (names.into_iter().collect(), offsets)
}

fn reads_this(sql: &str) -> bool {
    let mut rest = sql;
    while let Some(i) = rest.find("{{") {
        let inner = &rest[i + 2..];
        let end = inner.find("}}").unwrap_or(inner.len());
        if inner[..end].trim().trim_start_matches('-').trim() == "this" {
            return true;
        }
        rest = &inner[end..];
    }
    false
}

fn fingerprint(table: &Table, normalized_sql: &str) -> String {
    let mut h = Sha256::new();
    for (name, value) in std::iter::once(("sql", normalized_sql.to_string())).chain(settings(table))
    {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(value.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Everything of a definition but its SQL that changes the data, in the
/// order the fingerprint hashes it.
fn settings(table: &Table) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("strategy", table.strategy.name().to_string()),
        ("schedule", table.schedule.name().to_string()),
        ("start", crate::time::format_ts(table.start)),
        (
            "window",
            table.window.map(|w| w.to_string()).unwrap_or_default(),
        ),
        ("time_column", table.time_column.clone().unwrap_or_default()),
        ("unique_key", table.unique_key.join(",")),
    ];
    for (column, rule) in &table.merge {
        out.push(("merge", format!("{column}={}", rule.name())));
    }
    for c in &table.columns {
        out.push((
            "column",
            format!(
                "{}:{}",
                c.name,
                c.data_type.as_deref().unwrap_or("").to_ascii_uppercase()
            ),
        ));
    }
    out
}

/// Duplicate names, and every upstream resolved to the spelling of its
/// definition by the dialect's rules, or reported when there is none.
fn index_and_check_names(project: &mut Project) {
    let dialect = project.config.dialect;
    let nodes = std::mem::take(&mut project.nodes);
    let mut keys = foldhash::HashMap::with_capacity_and_hasher(nodes.len(), Default::default());
    let mut keep: Vec<Node> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let key = dialect.definition_key(node.name().as_str()).into_owned();
        match keys.entry(key) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(keep.len());
                keep.push(node);
            }
            std::collections::hash_map::Entry::Occupied(entry) => {
                let first = keep[*entry.get()].file();
                project
                    .diagnostics
                    .push(duplicate_name(project, &node, first));
            }
        }
    }
    project.nodes = keep;
    project.index = project.names_index();
    project.keys = keys;
    let project_ref = &*project;
    let known: Vec<&str> = project_ref
        .nodes
        .iter()
        .map(|n| n.name().as_str())
        .collect();
    let resolved: Vec<(usize, Resolved, Vec<Diagnostic>)> = project_ref
        .nodes
        .par_iter()
        .enumerate()
        .filter_map(|(position, node)| {
            let table = node.as_table()?;
            let (resolved, problems) = resolve_upstreams(project_ref, table, &known);
            Some((position, resolved, problems))
        })
        .collect();
    for (position, resolved, problems) in resolved {
        if let Node::Table(table) = &mut project.nodes[position] {
            table.upstreams = resolved.upstreams;
            table.reference_offsets = resolved.offsets;
            table.any_freshness = resolved.any_freshness;
        }
        project.diagnostics.extend(problems);
    }
}

fn duplicate_name(project: &Project, node: &Node, first: &Path) -> Diagnostic {
    let text = project.files.text(node.file()).unwrap_or_default();
    let span = Reader::new(node.file(), text).value_span(
        Scope {
            start: 0,
            end: text.len(),
        },
        "name",
    );
    let first = diagnostic::display_path(first, &project.root);
    Diagnostic::error(
        "duplicate-name",
        node.file(),
        span,
        format!("`{}` is already defined in {first}", node.name()),
    )
    .for_table(node.name().as_str())
    .with_help("every source and table needs a unique name; rename one of them")
}

/// A table's upstreams and `any` freshness names, in their defined spellings.
struct Resolved {
    upstreams: Vec<TableName>,
    offsets: Vec<(TableName, usize)>,
    any_freshness: BTreeSet<TableName>,
}

fn resolve_upstreams(
    project: &Project,
    table: &Table,
    known: &[&str],
) -> (Resolved, Vec<Diagnostic>) {
    let dialect = project.config.dialect;
    let mut upstreams = BTreeSet::new();
    let mut offsets = Vec::new();
    let mut problems = Vec::new();
    for upstream in &table.upstreams {
        let offset = table
            .reference_offsets
            .iter()
            .find(|(name, _)| name == upstream)
            .map(|(_, at)| *at);
        let key = match offset {
            Some(_) => dialect.reference_key(upstream.as_str()),
            None => dialect.definition_key(upstream.as_str()),
        };
        match project.keys.get(&*key) {
            Some(&i) => {
                let name = project.nodes[i].name().clone();
                offsets.extend(offset.map(|at| (name.clone(), at)));
                upstreams.insert(name);
            }
            None => {
                let location = reference_location(project, table, upstream);
                problems.push(unknown_reference(table, upstream, location, known, dialect));
            }
        }
    }
    let any_freshness = table
        .any_freshness
        .iter()
        .map(|name| {
            let key = dialect.definition_key(name.as_str());
            project
                .keys
                .get(&*key)
                .map_or_else(|| name.clone(), |&i| project.nodes[i].name().clone())
        })
        .collect();
    let resolved = Resolved {
        upstreams: upstreams.into_iter().collect(),
        offsets,
        any_freshness,
    };
    (resolved, problems)
}

fn unknown_reference(
    table: &Table,
    upstream: &TableName,
    (file, span): (PathBuf, std::ops::Range<usize>),
    known: &[&str],
    dialect: SqlDialect,
) -> Diagnostic {
    let same_but_case = dialect
        .names_are_case_sensitive()
        .then(|| {
            known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(upstream.as_str()))
        })
        .flatten();
    let help = match same_but_case {
        Some(k) => format!(
            "did you mean `{k}`? names are case-sensitive on {}",
            dialect.display_name()
        ),
        None => suggest(upstream.as_str(), known).map_or_else(
            || "define it as a source (`kind: source`) or a table, or fix the name".to_string(),
            |s| format!("did you mean `{s}`?"),
        ),
    };
    Diagnostic::error(
        "unknown-reference",
        &file,
        span,
        format!(
            "`{}` reads `{upstream}`, which is neither a source nor a table",
            table.name
        ),
    )
    .for_table(table.name.as_str())
    .with_help(help)
}

/// Where a table names an upstream: in its SQL, else in `depends_on`, else
/// (a relationship check) at its `checks`.
pub(crate) fn reference_location(
    project: &Project,
    table: &Table,
    name: &TableName,
) -> (PathBuf, std::ops::Range<usize>) {
    let in_sql = table
        .reference_offsets
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, at)| {
            let rendered = project.representative_sql(table)?;
            let offset = template::map_to_template(&table.sql, &rendered, *at);
            let text = project.files.text(&table.sql_path).unwrap_or_default();
            Some(sql_offset_in_file(table, text, offset))
        });
    if let Some(at) = in_sql {
        return (table.sql_path.clone(), at..at + name.as_str().len());
    }
    let text = project.files.text(&table.file).unwrap_or_default();
    let reader = Reader::new(&table.file, text);
    let key = if table.depends_on.contains(name) {
        "depends_on"
    } else {
        "checks"
    };
    (table.file.clone(), reader.value_span(reader.whole(), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parallel listing returns what one sorted walk returns, in its order.
    #[test]
    fn definitions_are_listed_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let tables = dir.path().join("tables");
        for file in [
            "a.yml",
            "b/x.yml",
            "b/c/y.yaml",
            "b/c/notes.txt",
            "b/z.yml",
            "ba.yml",
            "c.yaml",
            "d.txt",
            ".yml",
            "e/f/g/h.yml",
            "e/a.yml",
            "e/f.yml",
            "e/f-1/a.yml",
            "e/f/a.yml",
        ] {
            let path = tables.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "name: a.b\n").unwrap();
        }
        std::fs::create_dir_all(tables.join("empty")).unwrap();
        std::os::unix::fs::symlink(tables.join("b"), tables.join("linked")).unwrap();
        std::os::unix::fs::symlink(tables.join("a.yml"), tables.join("linked.yml")).unwrap();
        let walked: Vec<PathBuf> = walkdir::WalkDir::new(&tables)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .filter(|p| is_definition(p))
            .collect();
        assert_eq!(walked.len(), 11);
        assert_eq!(definition_files(&tables), walked);
        assert!(definition_files(&dir.path().join("missing")).is_empty());
    }
}
