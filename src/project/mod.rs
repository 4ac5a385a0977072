//! Everything about a user's project: `derived.yml`, the definitions under
//! `tables/`, their templates and the tables their SQL reads, and the
//! diagnostics that point back into those files.

pub mod checks;
pub mod columns;
pub mod config;
pub mod definition;
pub mod diagnostic;
pub mod dialect;
#[cfg(feature = "duckdb")]
pub mod duckdb_parser;
pub mod impact;
pub mod load;
pub mod refs;
pub mod template;
pub mod unit_test;
pub mod yaml;

pub use config::{Config, MetadataConfig, WarehouseConfig};
pub use definition::{
    BrokerKind, Column, Export, Freshness, Location, MergeRule, Node, OnChange, PayloadFormat,
    Source, SqlOrigin, Strategy, Stream, Table, TableName,
};
pub use diagnostic::{Diagnostic, Severity, SourceFiles};
pub use load::{load, Project};
pub use yaml::suggest;
