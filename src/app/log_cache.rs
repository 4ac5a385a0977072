//! The log's snapshot, read once per version of the log: in memory for a
//! process that plans again and again (a worker), and under `.derived/cache/`
//! for the next command. Every use asks the store for its version first, so a
//! cached snapshot is used only while it is the log's.

use super::cache::{unseal, write_sealed};
use crate::metadata::{LogSnapshot, LogVersion, MetadataStore};
use crate::time::Duration;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct LogCache {
    /// Where entries are kept between commands, and the store they are of.
    disk: Option<(PathBuf, String)>,
    memo: Mutex<Option<(Key, Arc<LogSnapshot>)>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    /// The entry's layout is this build's.
    binary: String,
    version: LogVersion,
    env: String,
    slack: Duration,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    key: Key,
    snapshot: LogSnapshot,
}

/// Changes whenever the entry's layout does.
const MAGIC: &[u8; 8] = b"DRVL0003";

impl LogCache {
    /// A cache that also keeps its entries in `dir`; `store` names the log
    /// they are of (its path or URL).
    pub fn on_disk(dir: &Path, store: String) -> LogCache {
        LogCache {
            disk: Some((dir.to_path_buf(), store)),
            memo: Mutex::new(None),
        }
    }

    pub fn read(
        &self,
        metadata: &dyn MetadataStore,
        env: &str,
        slack: Duration,
    ) -> Result<Arc<LogSnapshot>> {
        let key = Key {
            binary: super::cache::binary(),
            version: metadata.version()?,
            env: env.to_string(),
            slack,
        };
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached, snapshot)) = memo.as_ref() {
            if *cached == key {
                return Ok(snapshot.clone());
            }
        }
        let path = self
            .disk
            .as_ref()
            .map(|(dir, store)| entry_path(dir, store, env));
        let snapshot = match path.as_deref().and_then(|p| from_disk(p, &key)) {
            Some(snapshot) => Arc::new(snapshot),
            None => {
                let snapshot = metadata.snapshot(env, slack)?;
                if let Some(path) = &path {
                    to_disk(path, &key, &snapshot);
                }
                Arc::new(snapshot)
            }
        };
        *memo = Some((key, snapshot.clone()));
        Ok(snapshot)
    }
}

fn entry_path(dir: &Path, store: &str, env: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(store.as_bytes());
    h.update([0]);
    h.update(env.as_bytes());
    dir.join(format!("log-{}.bin", &hex::encode(h.finalize())[..32]))
}

fn from_disk(path: &Path, key: &Key) -> Option<LogSnapshot> {
    let bytes = std::fs::read(path).ok()?;
    let entry: Entry = postcard::from_bytes(unseal(MAGIC, &bytes)?).ok()?;
    (entry.key == *key).then_some(entry.snapshot)
}

/// Best effort: a cache that cannot be written is only slower.
fn to_disk(path: &Path, key: &Key, snapshot: &LogSnapshot) {
    #[derive(Serialize)]
    struct EntryRef<'a> {
        key: &'a Key,
        snapshot: &'a LogSnapshot,
    }
    if let Err(e) = write_sealed(path, MAGIC, &EntryRef { key, snapshot }) {
        tracing::debug!("not caching the log in {}: {e}", path.display());
    }
}
