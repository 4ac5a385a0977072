//! What every command runs with, parsed once from the flags.

use crate::env::Env;
use crate::time::Timestamp;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Settings {
    /// The project folder (holds `derived.yml` and `tables/`).
    pub project: PathBuf,
    pub env: Env,
    /// Read the definitions from this git revision instead of the working tree.
    pub rev: Option<String>,
    /// A fixed clock (`--now`), else the real one.
    clock: Option<Timestamp>,
}

impl Settings {
    pub fn new(
        project: PathBuf,
        env: Env,
        rev: Option<String>,
        now: Option<Timestamp>,
    ) -> Settings {
        Settings {
            project,
            env,
            rev,
            clock: now,
        }
    }

    /// The time every decision uses: `--now` when given, else the real clock.
    pub fn now(&self) -> Timestamp {
        self.clock.unwrap_or_else(chrono::Utc::now)
    }

    /// The same settings, reading the definitions at `rev` (None: the working tree).
    pub fn at_revision(&self, rev: Option<String>) -> Settings {
        Settings {
            rev,
            ..self.clone()
        }
    }
}
