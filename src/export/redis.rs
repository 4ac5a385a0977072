//! Redis: one hash per key, `<dataset>.<table>:<key1>[:<key2>…]`, holding the
//! non-key, non-null columns; written in pipelines of 1,000 keys.

use super::{key_values, text, ExportError, OnlineStore, Result, Rows, Sync};
use crate::project::{Export, Table};
use redis::{Commands, Connection};
use serde_json::{Map, Value};
use std::collections::HashSet;

pub struct RedisStore {
    name: String,
    connection: Connection,
}

const BATCH: usize = 1_000;

impl RedisStore {
    pub fn connect(name: &str, url: &str) -> Result<RedisStore> {
        let fail = |e: redis::RedisError| ExportError {
            store: name.to_string(),
            message: format!("{url}: {e}"),
        };
        let client = redis::Client::open(url).map_err(fail)?;
        let connection = client.get_connection().map_err(fail)?;
        Ok(RedisStore {
            name: name.to_string(),
            connection,
        })
    }

    fn fail(&self, e: redis::RedisError) -> ExportError {
        ExportError {
            store: self.name.clone(),
            message: e.to_string(),
        }
    }
}

pub fn key(table: &Table, values: &[String]) -> String {
    format!("{}:{}", table.name, values.join(":"))
}

impl OnlineStore for RedisStore {
    fn write(&mut self, table: &Table, export: &Export, rows: &Rows, sync: Sync) -> Result<u64> {
        let columns = &rows.result.columns;
        let mut written = HashSet::new();
        for chunk in rows.result.rows.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for row in chunk {
                let key = key(table, &key_values(export, columns, row));
                let fields: Vec<(&str, String)> = columns
                    .iter()
                    .zip(row)
                    .filter(|(c, _)| !export.key.contains(c))
                    .filter_map(|(c, v)| text(v).map(|v| (c.as_str(), v)))
                    .collect();
                pipe.del(&key).ignore();
                if !fields.is_empty() {
                    pipe.hset_multiple(&key, &fields).ignore();
                }
                if let Some(ttl) = export.ttl {
                    pipe.expire(&key, ttl.seconds()).ignore();
                }
                written.insert(key);
            }
            pipe.query::<()>(&mut self.connection)
                .map_err(|e| self.fail(e))?;
        }
        if sync == Sync::Full {
            let pattern = format!("{}:*", table.name);
            let name = self.name.clone();
            let existing: Vec<String> = self
                .connection
                .scan_match::<_, String>(&pattern)
                .map_err(|e| ExportError {
                    store: name,
                    message: e.to_string(),
                })?
                .collect();
            let vanished: Vec<&String> =
                existing.iter().filter(|k| !written.contains(*k)).collect();
            for chunk in vanished.chunks(BATCH) {
                let _: () = self.connection.del(chunk).map_err(|e| self.fail(e))?;
            }
        }
        Ok(rows.result.rows.len() as u64)
    }

    fn lookup(
        &mut self,
        table: &Table,
        _export: &Export,
        values: &[String],
    ) -> Result<Option<Map<String, Value>>> {
        let fields: Vec<(String, String)> = self
            .connection
            .hgetall(key(table, values))
            .map_err(|e| self.fail(e))?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            fields
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ))
    }
}
