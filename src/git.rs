//! Definitions at a git revision, read straight from the object database (no
//! checkout), and the history of one definition.

use crate::project::load::InMemory;
use git2::{ObjectType, Oid, Repository, StatusOptions, TreeWalkMode, TreeWalkResult};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0} is not inside a git repository")]
    NotARepository(String),
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The project's files as they were in one commit.
pub struct Revision {
    pub commit: String,
    pub files: InMemory,
}

struct Located {
    repo: Repository,
    /// The project folder relative to the repository's work tree.
    prefix: PathBuf,
}

fn locate(project_root: &Path) -> Result<Located, GitError> {
    let repo = Repository::discover(project_root)
        .map_err(|_| GitError::NotARepository(project_root.display().to_string()))?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| GitError::NotARepository(project_root.display().to_string()))?;
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let prefix = canonical(project_root)
        .strip_prefix(canonical(workdir))
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok(Located { repo, prefix })
}

/// `derived.yml` and everything under `tables/` at `rev`, keyed by their path under `project_root`.
pub fn at_revision(project_root: &Path, rev: &str) -> Result<Revision, GitError> {
    let Located { repo, prefix } = locate(project_root)?;
    let commit = repo.revparse_single(rev)?.peel_to_commit()?;
    let tree = commit.tree()?;
    let mut files = HashMap::new();
    let mut failure = None;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(ObjectType::Blob) {
            return TreeWalkResult::Ok;
        }
        let path = Path::new(dir).join(entry.name().unwrap_or_default());
        let Ok(relative) = path.strip_prefix(&prefix) else {
            return TreeWalkResult::Ok;
        };
        if relative != Path::new("derived.yml") && !relative.starts_with("tables") {
            return TreeWalkResult::Ok;
        }
        match repo.find_blob(entry.id()) {
            Ok(blob) => {
                files.insert(
                    project_root.join(relative),
                    String::from_utf8_lossy(blob.content()).into_owned(),
                );
            }
            Err(e) => failure = Some(e),
        }
        TreeWalkResult::Ok
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(Revision {
        commit: commit.id().to_string(),
        files: InMemory { files },
    })
}

/// HEAD's commit when `derived.yml` and `tables/` have no uncommitted changes.
pub fn clean_head(project_root: &Path) -> Option<String> {
    let Located { repo, prefix } = locate(project_root).ok()?;
    let mut options = StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true);
    for spec in ["derived.yml", "tables"] {
        options.pathspec(prefix.join(spec));
    }
    let dirty = !repo.statuses(Some(&mut options)).ok()?.is_empty();
    let head = repo.head().ok()?.peel_to_commit().ok()?;
    (!dirty).then(|| head.id().to_string())
}

/// One commit that changed a file.
#[derive(Clone, Debug)]
pub struct FileCommit {
    pub commit: String,
    pub author: String,
    pub time: chrono::DateTime<chrono::Utc>,
    pub message: String,
}

/// Commits reachable from HEAD that changed `file` (under `project_root`), newest first.
pub fn file_history(
    project_root: &Path,
    file: &Path,
    limit: usize,
) -> Result<Vec<FileCommit>, GitError> {
    let Located { repo, prefix } = locate(project_root)?;
    let relative = prefix.join(file.strip_prefix(project_root).unwrap_or(file));
    let mut walk = repo.revwalk()?;
    walk.push_head()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)?;
    let blob_at = |commit: &git2::Commit| -> Option<Oid> {
        commit.tree().ok()?.get_path(&relative).ok().map(|e| e.id())
    };
    let mut out = Vec::new();
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let mine = blob_at(&commit);
        let parent = commit.parents().next().and_then(|p| blob_at(&p));
        if mine.is_some() && mine != parent {
            out.push(FileCommit {
                commit: commit.id().to_string(),
                author: commit.author().name().unwrap_or("unknown").to_string(),
                time: chrono::DateTime::from_timestamp(commit.time().seconds(), 0)
                    .unwrap_or_default(),
                message: commit.summary().unwrap_or_default().to_string(),
            });
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}
