//! Online export: copies a table's rows to a key-value or keyed store after a
//! successful run, for millisecond lookups by product services.
//!
//! Layouts (SPEC §7): Redis hash `<dataset>.<table>:<key1>[:<key2>…]` holding
//! the other columns; PostgreSQL table `<schema>.<dataset>_<table>` keyed on the
//! key columns; Scylla table `<keyspace>.<dataset>_<table>` (CQL generated here;
//! no driver is wired in this build).

pub mod postgres;
pub mod redis;
pub mod scylla;

use crate::project::config::Store;
use crate::project::{Export, Table};
use crate::warehouse::QueryResult;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[error("export to {store}: {message}")]
pub struct ExportError {
    pub store: String,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, ExportError>;

/// How the rows relate to what the store holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Upsert these rows; keep everything else.
    Upsert,
    /// These are all the rows: upsert them and delete every other key.
    Full,
}

/// Rows to export, with the column types they came with.
pub struct Rows<'a> {
    pub result: &'a QueryResult,
    /// Warehouse type of each column (e.g. `BIGINT`, `TIMESTAMP`).
    pub types: &'a [String],
}

pub trait OnlineStore {
    fn write(&mut self, table: &Table, export: &Export, rows: &Rows, sync: Sync) -> Result<u64>;
    /// The row stored under these key values, as a JSON object.
    fn lookup(
        &mut self,
        table: &Table,
        export: &Export,
        key: &[String],
    ) -> Result<Option<Map<String, Value>>>;
}

pub fn connect(name: &str, store: &Store) -> Result<Box<dyn OnlineStore>> {
    match store {
        Store::Redis { url } => Ok(Box::new(redis::RedisStore::connect(name, url)?)),
        Store::Postgres { url, schema } => Ok(Box::new(postgres::PostgresStore::connect(name, url, schema)?)),
        Store::Scylla { .. } => Err(ExportError {
            store: name.to_string(),
            message: "this build generates CQL for Scylla but has no Scylla driver; export to redis or postgres".into(),
        }),
    }
}

/// A JSON value as the text a store keeps (None for null).
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The key columns' values of a row, in key order.
pub fn key_values(export: &Export, columns: &[String], row: &[Value]) -> Vec<String> {
    export
        .key
        .iter()
        .map(|k| {
            columns
                .iter()
                .position(|c| c == k)
                .and_then(|i| text(&row[i]))
                .unwrap_or_default()
        })
        .collect()
}

/// `<dataset>_<table>`: the table name in stores with a flat namespace.
pub fn flat_name(table: &Table) -> String {
    format!("{}_{}", table.name.dataset(), table.name.table())
}
