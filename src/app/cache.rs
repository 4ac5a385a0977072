//! A content-addressed cache of loaded projects under `.derived/cache/`.
//!
//! An entry is named by a hash of everything a load reads: the binary, the
//! project root, how much column lineage the load analyses, `derived.yml` and
//! every definition file, bytes and paths. Files the definitions pull in
//! (`sql_file`) are listed in the entry with the hash of their bytes and read
//! again on every hit. An entry that fails its checksum or does not decode is
//! ignored and written again, so the cache can be deleted, or lost, at any time.

use super::loaded::{with_dag, Loaded};
use crate::dag::Dag;
use crate::project::config;
use crate::project::load::{self, ColumnAnalysis, FileSource};
use crate::project::{Config, Diagnostic, Node, Project, SourceFiles};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Changes whenever the entry's layout does.
const MAGIC: &[u8; 8] = b"DRVC0001";
/// Project entries kept (the most recent), e.g. one per branch worked on.
const KEEP: usize = 8;
const PROJECT_ENTRY: &str = "project-";

type Digest = [u8; 32];

/// The folder of a project's cache.
pub fn folder(root: &Path) -> PathBuf {
    root.join(".derived").join("cache")
}

/// Loads the project at `root` from `source`, from the cache when nothing it
/// depends on changed, and fills the cache otherwise.
pub fn load(
    root: &Path,
    source: &dyn FileSource,
    columns: ColumnAnalysis,
    git_commit: Option<String>,
) -> Loaded {
    let inputs = Inputs::read(root, source);
    let dir = folder(root);
    let key = hex::encode(inputs.key(root, columns));
    let path = dir.join(format!("{PROJECT_ENTRY}{key}.bin"));
    if let Some(project) = restore(&path, root, source, &inputs) {
        let (dag, _) = Dag::build(&project);
        return Loaded {
            project,
            dag,
            git_commit,
            from_cache: true,
        };
    }
    let reading = Reading::new(source, &inputs);
    let loaded = with_dag(
        load::load_with(root, &reading, columns),
        git_commit,
        columns,
    );
    let pulled_in = reading.pulled_in.into_inner().unwrap_or_default();
    if let Err(e) = store(&dir, &path, &loaded.project, pulled_in) {
        tracing::debug!("not caching the project in {}: {e}", dir.display());
    }
    loaded
}

/// `derived.yml` and every definition, as read for the key.
struct Inputs {
    config_path: PathBuf,
    config: Option<String>,
    definitions: Vec<(PathBuf, Result<String, String>)>,
}

impl Inputs {
    fn read(root: &Path, source: &dyn FileSource) -> Inputs {
        let config_path = root.join("derived.yml");
        let config = source.read(&config_path).ok();
        let definitions = source
            .definitions(&root.join("tables"))
            .into_par_iter()
            .map(|path| {
                let text = source.read(&path).map_err(|e| e.to_string());
                (path, text)
            })
            .collect();
        Inputs {
            config_path,
            config,
            definitions,
        }
    }

    fn key(&self, root: &Path, columns: ColumnAnalysis) -> Digest {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(MAGIC);
        field(binary().as_bytes());
        field(root.as_os_str().as_encoded_bytes());
        field(&[columns as u8]);
        field(self.config.as_deref().unwrap_or("\u{0}absent").as_bytes());
        for (path, text) in &self.definitions {
            field(path.as_os_str().as_encoded_bytes());
            match text {
                Ok(text) => field(text.as_bytes()),
                Err(e) => field(format!("\u{0}unreadable {e}").as_bytes()),
            }
        }
        h.finalize().into()
    }
}

/// This build of derived: a rebuilt binary may load differently.
fn binary() -> String {
    let exe = std::env::current_exe().and_then(std::fs::metadata);
    let stamp = exe.map(|m| (m.len(), m.modified().ok())).ok();
    format!("{} {stamp:?}", env!("CARGO_PKG_VERSION"))
}

fn digest(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// The source a missed load reads through: definitions as already read, and a
/// record of every other file it pulls in.
struct Reading<'a> {
    source: &'a dyn FileSource,
    texts: HashMap<&'a Path, &'a Result<String, String>>,
    pulled_in: Mutex<Vec<(PathBuf, Option<Digest>)>>,
}

impl<'a> Reading<'a> {
    fn new(source: &'a dyn FileSource, inputs: &'a Inputs) -> Reading<'a> {
        Reading {
            source,
            texts: inputs
                .definitions
                .iter()
                .map(|(path, text)| (path.as_path(), text))
                .collect(),
            pulled_in: Mutex::new(Vec::new()),
        }
    }
}

impl FileSource for Reading<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if let Some(text) = self.texts.get(path) {
            return (*text).clone().map_err(std::io::Error::other);
        }
        let text = self.source.read(path);
        let hash = text.as_ref().ok().map(|t| digest(t.as_bytes()));
        if let Ok(mut pulled_in) = self.pulled_in.lock() {
            pulled_in.push((path.to_path_buf(), hash));
        }
        text
    }

    fn definitions(&self, _dir: &Path) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.texts.keys().map(|p| p.to_path_buf()).collect();
        paths.sort();
        paths
    }
}

#[derive(Serialize)]
struct EntryRef<'a> {
    pulled_in: &'a [(PathBuf, Option<Digest>)],
    nodes: &'a [Node],
    diagnostics: &'a [Diagnostic],
}

#[derive(Deserialize)]
struct Entry {
    pulled_in: Vec<(PathBuf, Option<Digest>)>,
    nodes: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
}

fn store(
    dir: &Path,
    path: &Path,
    project: &Project,
    mut pulled_in: Vec<(PathBuf, Option<Digest>)>,
) -> std::io::Result<()> {
    pulled_in.sort();
    pulled_in.dedup();
    let payload = postcard::to_stdvec(&EntryRef {
        pulled_in: &pulled_in,
        nodes: &project.nodes,
        diagnostics: &project.diagnostics,
    })
    .map_err(std::io::Error::other)?;
    write_atomically(path, &seal(MAGIC, &payload))?;
    prune(dir)
}

/// Keeps the most recent entries, and drops what killed writers left.
fn prune(dir: &Path) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)?.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PROJECT_ENTRY) && name.ends_with(".bin") {
            entries.push((modified, path));
        } else if name.contains(".partial-")
            && modified.elapsed().is_ok_and(|age| age.as_secs() > 3600)
        {
            let _ = std::fs::remove_file(path);
        }
    }
    entries.sort_by(|a, b| b.cmp(a));
    for (_, old) in entries.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(old);
    }
    Ok(())
}

fn decode(bytes: &[u8]) -> Option<Entry> {
    postcard::from_bytes(unseal(MAGIC, bytes)?).ok()
}

/// `payload` behind a magic number and its checksum.
pub(crate) fn seal(magic: &[u8; 8], payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(magic.len() + 32 + payload.len());
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&digest(payload));
    bytes.extend_from_slice(payload);
    bytes
}

/// The payload of sealed `bytes`, unless they are of another layout or damaged.
pub(crate) fn unseal<'b>(magic: &[u8; 8], bytes: &'b [u8]) -> Option<&'b [u8]> {
    let rest = bytes.strip_prefix(magic)?;
    let (checksum, payload) = rest.split_at_checked(32)?;
    (checksum == digest(payload)).then_some(payload)
}

/// Writes `path` whole or not at all: readers never see part of it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let unique = WRITES.fetch_add(1, Ordering::Relaxed);
    let partial = path.with_extension(format!("partial-{}-{unique}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

/// The cached project, when the entry exists, is whole, and every file it
/// pulled in is as it was.
fn restore(path: &Path, root: &Path, source: &dyn FileSource, inputs: &Inputs) -> Option<Project> {
    let entry = decode(&std::fs::read(path).ok()?)?;
    let mut files = SourceFiles::default();
    for (pulled, hash) in &entry.pulled_in {
        let text = source.read(pulled).ok();
        if text.as_ref().map(|t| digest(t.as_bytes())) != *hash {
            return None;
        }
        if let Some(text) = text {
            files.add(pulled, text);
        }
    }
    let config = match &inputs.config {
        Some(text) => {
            files.add(&inputs.config_path, text.clone());
            config::load(root, &inputs.config_path, text).0
        }
        None => Config::default_for(root),
    };
    for (path, text) in &inputs.definitions {
        if let Ok(text) = text {
            files.add(path, text.clone());
        }
    }
    Some(Project::restore(
        root,
        config,
        entry.nodes,
        entry.diagnostics,
        files,
    ))
}
