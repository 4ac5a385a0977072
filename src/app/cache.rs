//! A content-addressed cache of loaded projects under `.derived/cache/`.
//!
//! An entry is named by a hash of everything a load reads: the binary, the
//! project root, how much column lineage the load analyses, `derived.yml` and
//! every definition file, bytes and paths. Files the definitions pull in
//! (`sql_file`) are listed in the entry with the hash of their bytes and read
//! again on every hit. An entry that fails its checksum or does not decode is
//! ignored and written again, so the cache can be deleted, or lost, at any time.
//!
//! Reading ten thousand files costs more than the rest of a warm load, so a
//! second, smaller entry maps what the file system says of every definition
//! (size, inode, modification and change times: [`Stamp`]) to the content
//! key it had. A write moves a file's change time, which no one can set back;
//! only two writes within one clock tick could look the same, so a file
//! written in the last two seconds before the entry is compared by its bytes
//! on every use.

use super::loaded::{with_dag, Loaded};
use crate::dag::Dag;
use crate::project::config;
use crate::project::load::{self, ColumnAnalysis, FileSource, Stamp};
use crate::project::{Config, Diagnostic, Node, Project, SourceFiles};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Changes whenever the entry's layout does.
const MAGIC: &[u8; 8] = b"DRVC0002";
/// Project entries kept (the most recent), e.g. one per branch worked on.
const KEEP: usize = 8;
const PROJECT_ENTRY: &str = "project-";
const STAMPS_ENTRY: &str = "stamps-";
/// Files changed this recently when their stamps are recorded are compared by
/// their bytes: a second write within the same clock tick keeps every stamp.
const RACY: std::time::Duration = std::time::Duration::from_secs(2);

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
    let dir = folder(root);
    let listing = Listing::read(root, source);
    let stamps_path = listing
        .stamp_key(root, columns)
        .map(|key| dir.join(format!("{STAMPS_ENTRY}{}.bin", hex::encode(key))));
    if let Some(project) = stamps_path
        .as_deref()
        .and_then(|path| restore_by_stamps(path, &dir, root, source, &listing))
    {
        return cached(project, git_commit);
    }
    let inputs = Inputs::read(listing, source);
    let key = inputs.key(root, columns);
    let racy = racy_files(&inputs);
    let Inputs {
        listing,
        definitions,
    } = inputs;
    let path = project_path(&dir, &key);
    let mut texts = Some(definitions);
    let restored = restore(&path, root, source, &listing, |files| {
        for (path, text) in texts.take().unwrap_or_default() {
            if let Ok(text) = text {
                files.add(&path, text);
            }
        }
    });
    let loaded = match (restored, texts) {
        (Some(project), _) => cached(project, git_commit),
        (None, texts) => {
            let reading = Reading::new(source, &listing, texts.unwrap_or_default());
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
    };
    if let (Some(stamps_path), Some(racy)) = (stamps_path, racy) {
        remember_stamps(&stamps_path, key, racy);
    }
    loaded
}

fn cached(project: Project, git_commit: Option<String>) -> Loaded {
    let (dag, _) = Dag::build(&project);
    Loaded {
        project,
        dag,
        git_commit,
        from_cache: true,
    }
}

fn project_path(dir: &Path, key: &Digest) -> PathBuf {
    dir.join(format!("{PROJECT_ENTRY}{}.bin", hex::encode(key)))
}

/// `derived.yml` and the paths and stamps of every definition.
struct Listing {
    config_path: PathBuf,
    config: Option<String>,
    paths: Vec<PathBuf>,
    stamps: Vec<Option<Stamp>>,
}

impl Listing {
    fn read(root: &Path, source: &dyn FileSource) -> Listing {
        let config_path = root.join("derived.yml");
        let config = source.read(&config_path).ok();
        let paths = source.definitions(&root.join("tables"));
        let stamps = paths.par_iter().map(|p| source.stamp(p)).collect();
        Listing {
            config_path,
            config,
            paths,
            stamps,
        }
    }

    /// The key of the stamps entry; None when a file has no stamp.
    fn stamp_key(&self, root: &Path, columns: ColumnAnalysis) -> Option<Digest> {
        let mut h = Keyed::new(root, columns, self.config.as_deref());
        for (path, stamp) in self.paths.iter().zip(&self.stamps) {
            h.field(path.as_os_str().as_encoded_bytes());
            let bytes: Vec<u8> = (*stamp)?.iter().flat_map(|n| n.to_le_bytes()).collect();
            h.field(&bytes);
        }
        Some(h.finish())
    }
}

/// A hash of length-prefixed fields, starting with what every key shares.
struct Keyed(Sha256);

impl Keyed {
    fn new(root: &Path, columns: ColumnAnalysis, config: Option<&str>) -> Keyed {
        let mut h = Keyed(Sha256::new());
        h.field(MAGIC);
        h.field(binary().as_bytes());
        h.field(root.as_os_str().as_encoded_bytes());
        h.field(&[columns as u8]);
        h.field(config.unwrap_or("\u{0}absent").as_bytes());
        h
    }

    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn finish(self) -> Digest {
        self.0.finalize().into()
    }
}

/// The listing and every definition's bytes.
struct Inputs {
    listing: Listing,
    definitions: Vec<(PathBuf, Result<String, String>)>,
}

impl Inputs {
    fn read(listing: Listing, source: &dyn FileSource) -> Inputs {
        let definitions = listing
            .paths
            .par_iter()
            .map(|path| {
                let text = source.read(path).map_err(|e| e.to_string());
                (path.clone(), text)
            })
            .collect();
        Inputs {
            listing,
            definitions,
        }
    }

    fn key(&self, root: &Path, columns: ColumnAnalysis) -> Digest {
        let mut h = Keyed::new(root, columns, self.listing.config.as_deref());
        for (path, text) in &self.definitions {
            h.field(path.as_os_str().as_encoded_bytes());
            match text {
                Ok(text) => h.field(text.as_bytes()),
                Err(e) => h.field(format!("\u{0}unreadable {e}").as_bytes()),
            }
        }
        h.finish()
    }
}

/// What the stamps of every definition stood for.
#[derive(Serialize, Deserialize)]
struct StampsEntry {
    project: Digest,
    /// Files written too recently to trust their stamps, with their bytes' hash.
    racy: Vec<(PathBuf, Digest)>,
}

const STAMPS_MAGIC: &[u8; 8] = b"DRVS0002";

/// The definitions written too recently to trust their stamps, with their
/// bytes' hash; None when one could not be read or has no stamp.
fn racy_files(inputs: &Inputs) -> Option<Vec<(PathBuf, Digest)>> {
    let now = std::time::SystemTime::now();
    let recent = |nanos: u64| {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos);
        now.duration_since(at).map_or(true, |age| age < RACY)
    };
    let mut racy = Vec::new();
    for ((path, text), stamp) in inputs.definitions.iter().zip(&inputs.listing.stamps) {
        let (Ok(text), Some(stamp)) = (text, stamp) else {
            return None;
        };
        if recent(stamp[2]) || recent(stamp[3]) {
            racy.push((path.clone(), digest(text.as_bytes())));
        }
    }
    Some(racy)
}

fn remember_stamps(path: &Path, project: Digest, racy: Vec<(PathBuf, Digest)>) {
    if let Err(e) = write_sealed(path, STAMPS_MAGIC, &StampsEntry { project, racy }) {
        tracing::debug!("not caching stamps in {}: {e}", path.display());
    }
}

/// The project the stamps stand for, when recorded and still true; its
/// definitions are read from disk only when a text is asked for.
fn restore_by_stamps(
    path: &Path,
    dir: &Path,
    root: &Path,
    source: &dyn FileSource,
    listing: &Listing,
) -> Option<Project> {
    let bytes = std::fs::read(path).ok()?;
    let entry: StampsEntry = postcard::from_bytes(unseal(STAMPS_MAGIC, &bytes)?).ok()?;
    let mut read = HashMap::new();
    for (racy, hash) in &entry.racy {
        let text = source.read(racy).ok()?;
        if digest(text.as_bytes()) != *hash {
            return None;
        }
        read.insert(racy.clone(), text);
    }
    restore(
        &project_path(dir, &entry.project),
        root,
        source,
        listing,
        |files| {
            for path in &listing.paths {
                // Most often nothing was racy: no path is hashed then.
                let text = if read.is_empty() {
                    None
                } else {
                    read.remove(path)
                };
                match text {
                    Some(text) => files.add(path, text),
                    None => files.add_on_disk(path),
                }
            }
        },
    )
}

/// This build of derived: a rebuilt binary may load differently, and lay its
/// entries out differently.
pub(crate) fn binary() -> String {
    static BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().and_then(std::fs::metadata);
            let stamp = exe.map(|m| (m.len(), m.modified().ok())).ok();
            format!("{} {stamp:?}", env!("CARGO_PKG_VERSION"))
        })
        .clone()
}

fn digest(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// The source a missed load reads through: `derived.yml` and the definitions
/// as already read, each handed over once, and a record of every other file
/// it pulls in.
struct Reading<'a> {
    source: &'a dyn FileSource,
    listing: &'a Listing,
    texts: Mutex<HashMap<PathBuf, Result<String, String>>>,
    pulled_in: Mutex<Vec<(PathBuf, Option<Digest>)>>,
}

impl<'a> Reading<'a> {
    fn new(
        source: &'a dyn FileSource,
        listing: &'a Listing,
        definitions: Vec<(PathBuf, Result<String, String>)>,
    ) -> Reading<'a> {
        Reading {
            source,
            listing,
            texts: Mutex::new(definitions.into_iter().collect()),
            pulled_in: Mutex::new(Vec::new()),
        }
    }
}

impl FileSource for Reading<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if path == self.listing.config_path {
            let config = self.listing.config.clone();
            return config.ok_or_else(|| std::io::ErrorKind::NotFound.into());
        }
        let text = self
            .texts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path);
        if let Some(text) = text {
            return text.map_err(std::io::Error::other);
        }
        let text = self.source.read(path);
        let hash = text.as_ref().ok().map(|t| digest(t.as_bytes()));
        if let Ok(mut pulled_in) = self.pulled_in.lock() {
            pulled_in.push((path.to_path_buf(), hash));
        }
        text
    }

    fn definitions(&self, _dir: &Path) -> Vec<PathBuf> {
        self.listing.paths.clone()
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
    let entry = EntryRef {
        pulled_in: &pulled_in,
        nodes: &project.nodes,
        diagnostics: &project.diagnostics,
    };
    write_sealed(path, MAGIC, &entry)?;
    prune(dir)
}

/// Keeps the most recent entries, and drops what killed writers left.
fn prune(dir: &Path) -> std::io::Result<()> {
    let (mut projects, mut stamps) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir)?.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PROJECT_ENTRY) && name.ends_with(".bin") {
            projects.push((modified, path));
        } else if name.starts_with(STAMPS_ENTRY) && name.ends_with(".bin") {
            stamps.push((modified, path));
        } else if name.contains(".partial-")
            && modified.elapsed().is_ok_and(|age| age.as_secs() > 3600)
        {
            let _ = std::fs::remove_file(path);
        }
    }
    for mut entries in [projects, stamps] {
        entries.sort_by(|a, b| b.cmp(a));
        for (_, old) in entries.into_iter().skip(KEEP) {
            let _ = std::fs::remove_file(old);
        }
    }
    Ok(())
}

fn decode(bytes: &[u8]) -> Option<Entry> {
    postcard::from_bytes(unseal(MAGIC, bytes)?).ok()
}

/// Writes `value`'s encoding to `path` behind a magic number and its CRC-32,
/// whole or not at all: readers never see part of it. The checksum catches a
/// damaged entry; the content hash is in the entry's name. The encoding streams
/// to the file: a large project is never held twice in memory.
pub(crate) fn write_sealed(
    path: &Path,
    magic: &[u8; 8],
    value: &impl Serialize,
) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let unique = WRITES.fetch_add(1, Ordering::Relaxed);
    let partial = path.with_extension(format!("partial-{}-{unique}", std::process::id()));
    let written =
        write_entry(&partial, magic, value).and_then(|()| std::fs::rename(&partial, path));
    written.inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

fn write_entry(path: &Path, magic: &[u8; 8], value: &impl Serialize) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(magic)?;
    file.write_all(&[0; 4])?;
    // Buffered before the checksum, so that it runs over large blocks rather
    // than over each field postcard writes.
    let out = std::io::BufWriter::with_capacity(
        1 << 16,
        Checksummed {
            file,
            crc: crc32fast::Hasher::new(),
        },
    );
    let out = postcard::to_io(value, out).map_err(std::io::Error::other)?;
    let Checksummed { mut file, crc } = out.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(magic.len() as u64))?;
    file.write_all(&crc.finalize().to_le_bytes())
}

/// A writer that keeps the CRC-32 of what passes through it.
struct Checksummed {
    file: std::fs::File,
    crc: crc32fast::Hasher,
}

impl Write for Checksummed {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(bytes)?;
        self.crc.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The payload of sealed `bytes`, unless they are of another layout or damaged.
pub(crate) fn unseal<'b>(magic: &[u8; 8], bytes: &'b [u8]) -> Option<&'b [u8]> {
    let rest = bytes.strip_prefix(magic)?;
    let (checksum, payload) = rest.split_at_checked(4)?;
    (checksum == crc32fast::hash(payload).to_le_bytes()).then_some(payload)
}

/// The cached project, when the entry exists, is whole, and every file it
/// pulled in is as it was; `definitions` adds the definitions' texts.
fn restore(
    path: &Path,
    root: &Path,
    source: &dyn FileSource,
    listing: &Listing,
    definitions: impl FnOnce(&mut SourceFiles),
) -> Option<Project> {
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
    let config = match &listing.config {
        Some(text) => {
            files.add(&listing.config_path, text.clone());
            config::load(root, &listing.config_path, text).0
        }
        None => Config::default_for(root),
    };
    definitions(&mut files);
    Some(Project::restore(
        root,
        config,
        entry.nodes,
        entry.diagnostics,
        files,
    ))
}
