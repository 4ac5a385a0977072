//! PostgreSQL: a table `<schema>.<dataset>_<table>` with a primary key on the
//! export key, created and widened from the warehouse columns; rows upserted
//! with `INSERT … ON CONFLICT`, a full sync replaces the contents in one
//! transaction.

use super::{flat_name, ExportError, OnlineStore, Result, Rows, Sync};
use crate::project::{Export, Table};
use crate::warehouse::Dialect;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

pub struct PostgresStore {
    name: String,
    schema: String,
    client: Client,
    runtime: Runtime,
    /// Lookup statements per table, with each key compared in its own type so the primary key is used.
    lookups: std::collections::HashMap<String, String>,
}

const BATCH: usize = 1_000;

impl PostgresStore {
    pub fn connect(name: &str, url: &str, schema: &str) -> Result<PostgresStore> {
        let fail = |message: String| ExportError {
            store: name.to_string(),
            message,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let (client, connection) = runtime
            .block_on(tokio_postgres::connect(url, NoTls))
            .map_err(|e| fail(format!("{url}: {e}")))?;
        runtime.spawn(connection);
        Ok(PostgresStore {
            name: name.to_string(),
            schema: schema.to_string(),
            client,
            runtime,
            lookups: Default::default(),
        })
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| ExportError {
                store: self.name.clone(),
                message: e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_string()),
            })
    }

    fn target(&self, table: &Table) -> String {
        format!("{}.{}", quote(&self.schema), quote(&flat_name(table)))
    }
}

/// The PostgreSQL type for a warehouse (DuckDB) column type.
pub fn column_type(warehouse_type: &str) -> &'static str {
    let t = warehouse_type.to_ascii_uppercase();
    match t.as_str() {
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" | "UBIGINT" | "UINTEGER" | "USMALLINT"
        | "UTINYINT" => "BIGINT",
        "HUGEINT" => "NUMERIC",
        "DOUBLE" | "FLOAT" | "REAL" => "DOUBLE PRECISION",
        "BOOLEAN" => "BOOLEAN",
        "DATE" => "DATE",
        "TIMESTAMP" => "TIMESTAMP",
        "TIMESTAMP WITH TIME ZONE" | "TIMESTAMPTZ" => "TIMESTAMPTZ",
        _ if t.starts_with("DECIMAL") => "NUMERIC",
        _ => "TEXT",
    }
}

fn literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string().to_uppercase(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

impl OnlineStore for PostgresStore {
    fn write(&mut self, table: &Table, export: &Export, rows: &Rows, sync: Sync) -> Result<u64> {
        let target = self.target(table);
        let columns = &rows.result.columns;
        let defs: Vec<String> = columns
            .iter()
            .zip(rows.types)
            .map(|(c, t)| format!("{} {}", quote(c), column_type(t)))
            .collect();
        let keys: Vec<String> = export.key.iter().map(|k| quote(k)).collect();
        // One multi-statement batch is one transaction; the lock keeps concurrent
        // exporters from racing to create the same schema.
        let mut setup = format!(
            "SELECT pg_advisory_xact_lock(hashtext('derived.export.setup')); CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {target} ({}, PRIMARY KEY ({}));",
            quote(&self.schema),
            defs.join(", "),
            keys.join(", ")
        );
        for def in &defs {
            setup.push_str(&format!(
                "ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {def};"
            ));
        }
        self.batch(&setup)?;
        let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !export.key.contains(c))
            .map(|c| format!("{c} = EXCLUDED.{c}", c = quote(c)))
            .collect();
        let on_conflict = if updates.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        let mut statements = String::from("BEGIN;");
        if sync == Sync::Full {
            statements.push_str(&format!("DELETE FROM {target};"));
        }
        for chunk in rows.result.rows.chunks(BATCH) {
            let values: Vec<String> = chunk
                .iter()
                .map(|row| {
                    format!(
                        "({})",
                        row.iter().map(literal).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            statements.push_str(&format!(
                "INSERT INTO {target} ({}) VALUES {} ON CONFLICT ({}) {on_conflict};",
                names.join(", "),
                values.join(", "),
                keys.join(", ")
            ));
        }
        statements.push_str("COMMIT;");
        if let Err(e) = self.batch(&statements) {
            let _ = self.batch("ROLLBACK");
            return Err(e);
        }
        Ok(rows.result.rows.len() as u64)
    }

    fn lookup(
        &mut self,
        table: &Table,
        export: &Export,
        values: &[String],
    ) -> Result<Option<Map<String, Value>>> {
        let fail = |e: tokio_postgres::Error| ExportError {
            store: self.name.clone(),
            message: e.to_string(),
        };
        let target = self.target(table);
        if !self.lookups.contains_key(&target) {
            let types = self
                .runtime
                .block_on(self.client.query(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
                    &[&self.schema, &flat_name(table)],
                ))
                .map_err(fail)?;
            let type_of = |column: &str| {
                types
                    .iter()
                    .find(|r| r.get::<_, String>(0) == column)
                    .map_or("text".to_string(), |r| r.get(1))
            };
            let conditions: Vec<String> = export
                .key
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{} = ${}::text::{}", quote(k), i + 1, type_of(k)))
                .collect();
            let sql = format!(
                "SELECT row_to_json(t)::text FROM {target} AS t WHERE {}",
                conditions.join(" AND ")
            );
            self.lookups.insert(target.clone(), sql);
        }
        let sql = self.lookups[&target].clone();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + std::marker::Sync)> = values
            .iter()
            .map(|v| v as &(dyn tokio_postgres::types::ToSql + std::marker::Sync))
            .collect();
        let rows = self
            .runtime
            .block_on(self.client.query(&sql, &params))
            .map_err(|e| ExportError {
                store: self.name.clone(),
                message: e.to_string(),
            })?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let json: String = row.get(0);
        Ok(serde_json::from_str::<Map<String, Value>>(&json).ok())
    }
}

/// Quoted like PostgreSQL's identifiers: anything but a plain lowercase name.
fn quote(ident: &str) -> String {
    Dialect::Ansi.quote(ident)
}
