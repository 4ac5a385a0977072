//! Derived: SQL-defined derived tables kept fresh from a metadata log.
//!
//! Data flows one way: `project` loads definitions, `dag` orders them, `plan`
//! decides (purely) what must run, `exec` runs it against a `warehouse` and
//! appends to the `metadata` log; `cli` prints the results. `ingest` lands
//! event streams into sources and advances their watermarks.

#[cfg(feature = "duckdb")]
pub mod app;
pub mod ci;
#[cfg(feature = "duckdb")]
pub mod cli;
pub mod dag;
pub mod docs;
pub mod env;
pub mod exec;
pub mod export;
pub mod git;
pub mod governance;
pub mod ingest;
pub mod lineage;
pub mod metadata;
pub mod name;
pub mod plan;
pub mod project;
pub mod serve;
pub mod testing;
pub mod time;
pub mod warehouse;
