//! PostgreSQL as the warehouse: for small teams, and the warehouse that takes
//! concurrent writers from several worker processes. Sources are existing
//! tables; every write is one transaction on a connection of its own (see
//! [`sql`]), which also records the run in `_derived.commits`.

pub mod sql;

use super::*;
use crate::project::checks::{ROWS, SAMPLE_ROWS};
use crate::project::Strategy;
use sql::MergeSpec;
use std::sync::Mutex;
use tokio_postgres::{Client, NoTls};

pub struct PostgresWarehouse {
    url: String,
    runtime: tokio::runtime::Runtime,
    pool: Mutex<Vec<Client>>,
}

fn err(e: tokio_postgres::Error) -> WarehouseError {
    // SQLSTATE classes: 42 syntax and unknown names, 0A unsupported; 22 data, 23 constraints.
    let kind = match e.code().map(|c| &c.code()[..2]) {
        Some("42" | "0A") => FailureKind::Statement,
        Some("22" | "23") => FailureKind::Data,
        _ => FailureKind::Unknown,
    };
    let message = match e.as_db_error() {
        Some(db) => {
            let position = match db.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
                    format!(" (at character {p})")
                }
                _ => String::new(),
            };
            format!("{}{position}", db.message())
        }
        None => e.to_string(),
    };
    WarehouseError {
        kind,
        ..WarehouseError::new(message)
    }
}

impl PostgresWarehouse {
    pub fn connect(url: &str) -> Result<PostgresWarehouse> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| WarehouseError::new(e.to_string()))?;
        let warehouse = PostgresWarehouse {
            url: url.to_string(),
            runtime,
            pool: Mutex::new(Vec::new()),
        };
        // Fail at once, with the URL, when the server cannot be reached.
        let client = warehouse.new_client()?;
        warehouse
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(client);
        Ok(warehouse)
    }

    fn new_client(&self) -> Result<Client> {
        self.runtime.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&self.url, NoTls)
                    .await
                    .map_err(|e| {
                        WarehouseError::new(format!(
                            "cannot connect to the warehouse at {}: {e}",
                            self.url
                        ))
                    })?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!("warehouse connection closed: {e}");
                }
            });
            client
                .batch_execute("SET TIME ZONE 'UTC'")
                .await
                .map_err(err)?;
            Ok(client)
        })
    }

    /// A connection of its own for one caller, returned to the pool afterwards
    /// (unless it broke).
    fn with_client<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let client = match pooled {
            Some(c) if !c.is_closed() => c,
            _ => self.new_client()?,
        };
        let session = Session {
            client,
            runtime: &self.runtime,
        };
        let result = f(&session);
        if !session.client.is_closed() {
            self.pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(session.client);
        }
        result
    }
}

/// One connection, used synchronously.
struct Session<'a> {
    client: Client,
    runtime: &'a tokio::runtime::Runtime,
}

impl Session<'_> {
    /// Lets `build` fill `fresh`, then swaps it in with the commit record in
    /// one transaction; a failure drops `fresh`.
    fn rebuild(
        &self,
        rebuild: &Rebuild,
        fresh: &PhysicalName,
        build: &mut dyn FnMut(&dyn FreshTable) -> Result<()>,
    ) -> Result<u64> {
        let target = rebuild.target;
        self.batch(&format!("DROP TABLE IF EXISTS {}", table_sql(fresh)))?;
        let built = build(&Fresh {
            session: self,
            table: fresh,
        });
        let swapped = built.and_then(|()| {
            self.in_transaction(|| {
                let rows =
                    self.count(&format!("SELECT count(*) FROM {}", table_sql(fresh)))? as u64;
                self.batch(&format!(
                    "{};\n{}",
                    sql::swap(target, fresh),
                    sql::commit(rebuild.run_id, target, rows)
                ))?;
                Ok(rows)
            })
        });
        if swapped.is_err() {
            let _ = self.batch(&format!("DROP TABLE IF EXISTS {}", table_sql(fresh)));
        }
        swapped
    }
}

/// A rebuild's fresh table on one session.
struct Fresh<'s, 'a> {
    session: &'s Session<'a>,
    table: &'s PhysicalName,
}

impl FreshTable for Fresh<'_, '_> {
    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome> {
        self.session.write(request, self.table, false)
    }
}

impl Session<'_> {
    /// Asks the server to cancel what this connection is running (from
    /// another thread; the statement then fails and its transaction rolls back).
    fn cancel(&self) {
        let token = self.client.cancel_token();
        if let Err(e) = self.runtime.block_on(token.cancel_query(NoTls)) {
            tracing::warn!("could not cancel a statement past its timeout: {e}");
        }
    }
}

impl Session<'_> {
    fn batch(&self, sql: &str) -> Result<()> {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(err)
    }

    fn rows(&self, sql: &str) -> Result<Vec<tokio_postgres::Row>> {
        self.runtime
            .block_on(self.client.query(sql, &[]))
            .map_err(err)
    }

    fn count(&self, sql: &str) -> Result<i64> {
        Ok(self.rows(sql)?.first().map_or(0, |r| r.get(0)))
    }

    /// Column names and PostgreSQL type names of a relation.
    fn columns(&self, relation: &str) -> Result<Vec<(String, String)>> {
        let statement = self
            .runtime
            .block_on(self.client.prepare(&format!("SELECT * FROM {relation}")))
            .map_err(err)?;
        Ok(statement
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().name().to_string()))
            .collect())
    }

    fn in_transaction<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.batch("BEGIN")?;
        match f() {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Rows as JSON values, typed by what PostgreSQL says they are.
    fn json_rows(&self, sql: &str) -> Result<QueryResult> {
        let sql = sql.trim().trim_end_matches(';');
        let columns = self.columns(&format!("(\n{sql}\n) AS q"))?;
        let rows = self.rows(&format!(
            "SELECT CAST(json_build_array({}) AS TEXT) FROM (\n{sql}\n) AS q",
            (1..=columns.len())
                .map(|i| format!("q.{}", quote(&columns[i - 1].0)))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
        let rows = rows
            .iter()
            .map(|r| {
                let values: Vec<serde_json::Value> =
                    serde_json::from_str(r.get::<_, &str>(0)).unwrap_or_default();
                values
                    .into_iter()
                    .zip(&columns)
                    .map(|(v, (_, ty))| normalize(v, ty))
                    .collect()
            })
            .collect();
        Ok(QueryResult {
            columns: columns.into_iter().map(|(c, _)| c).collect(),
            rows,
        })
    }

    fn run_checks(&self, rows: &str, checks: &[PreparedCheck]) -> Result<Vec<CheckOutcome>> {
        let mut outcomes = Vec::with_capacity(checks.len());
        for check in checks {
            let query = Dialect::Ansi.offending_rows(check).replace(ROWS, rows);
            let failing = self.count(&sql::count_rows(&query)).map_err(|e| {
                WarehouseError::new(format!("check {} could not run: {}", check.name, e.message))
            })?;
            let sample = if failing > 0 {
                self.json_rows(&sql::sample_rows(&query, SAMPLE_ROWS))?
                    .into_objects()
            } else {
                Vec::new()
            };
            outcomes.push(CheckOutcome {
                name: check.name.clone(),
                severity: check.severity,
                failing_rows: failing as u64,
                sample,
            });
        }
        checks_passed(outcomes)
    }

    /// One write in one transaction: stage, check, publish, record.
    fn write(
        &self,
        request: &WriteRequest,
        target: &PhysicalName,
        commit: bool,
    ) -> Result<WriteOutcome> {
        let stage = sql::companion(target, &format!("stage_{}", request.run_id));
        self.in_transaction(|| {
            self.batch(&sql::create_stage(&stage, request.sql, request.columns))?;
            let columns = self.columns(&table_sql(&stage))?;
            let names: Vec<String> = columns.iter().map(|(c, _)| c.clone()).collect();
            let needed: Vec<&str> = match request.strategy {
                Strategy::Append => request.time_column.into_iter().collect(),
                Strategy::Merge => request.unique_key.iter().map(String::as_str).collect(),
                Strategy::Replace => Vec::new(),
            };
            if let Some(missing) = needed.iter().find(|n| !names.iter().any(|c| c == *n)) {
                return Err(WarehouseError::statement(format!(
                    "`{missing}` is not among the query's output columns ({})",
                    names.join(", ")
                )));
            }
            if let (Strategy::Append, Some(time_column)) = (request.strategy, request.time_column) {
                let outside = self.rows(&sql::row_outside(&stage, time_column, request.interval))?;
                if let Some(row) = outside.first() {
                    let value: Option<String> = row.get(0);
                    return Err(WarehouseError::data(format!(
                        "a row has {time_column} = {}, outside the interval [{}, {}) the run writes; \
                         filter the query with {{{{ start }}}} and {{{{ end }}}}",
                        value.unwrap_or_else(|| "NULL".into()),
                        crate::time::format_ts(request.interval.start()),
                        crate::time::format_ts(request.interval.end())
                    )));
                }
            }
            let checks = self.run_checks(&table_sql(&stage), request.checks)?;
            let rows = self.count(&format!("SELECT count(*) FROM {}", table_sql(&stage)))? as u64;
            let mut added = Vec::new();
            if request.strategy != Strategy::Replace {
                self.batch(&sql::create_target(target, &stage))?;
                let existing = self.columns(&table_sql(target))?;
                for (column, data_type) in columns_to_add(&columns, &existing) {
                    self.batch(&format!(
                        "ALTER TABLE {} ADD COLUMN {} {data_type}",
                        table_sql(target),
                        quote(column)
                    ))?;
                    added.push(column.clone());
                }
            }
            let publish = match (request.strategy, request.time_column) {
                (Strategy::Replace, _) => sql::swap(target, &stage),
                (Strategy::Append, Some(time_column)) => format!(
                    "{};\nDROP TABLE {}",
                    sql::append(target, &stage, &names, time_column, request.interval),
                    table_sql(&stage)
                ),
                _ => format!(
                    "{};\nDROP TABLE {}",
                    sql::merge(
                        target,
                        &stage,
                        &MergeSpec {
                            columns: &columns,
                            unique_key: request.unique_key,
                            rules: request.merge,
                            time_column: request.time_column,
                        }
                    ),
                    table_sql(&stage)
                ),
            };
            self.batch(&publish)?;
            if commit {
                self.batch(&sql::commit(request.run_id, target, rows))?;
            }
            Ok(WriteOutcome {
                rows,
                checks,
                added_columns: added,
                ..WriteOutcome::default()
            })
        })
    }
}

/// Timestamps in RFC 3339 UTC, as every backend prints them.
fn normalize(value: serde_json::Value, data_type: &str) -> serde_json::Value {
    match (&value, data_type) {
        (serde_json::Value::String(text), "timestamp") => {
            crate::time::parse_timestamp(&format!("{text}Z"))
                .map_or(value.clone(), |t| crate::time::format_ts_precise(t).into())
        }
        (serde_json::Value::String(text), "timestamptz") => {
            chrono::DateTime::parse_from_rfc3339(text).map_or(value.clone(), |t| {
                crate::time::format_ts_precise(t.with_timezone(&chrono::Utc)).into()
            })
        }
        _ => value,
    }
}

impl Warehouse for PostgresWarehouse {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn dialect(&self) -> Dialect {
        Dialect::Ansi
    }

    fn columns(&self, name: &PhysicalName) -> Result<Vec<(String, String)>> {
        self.with_client(|s| {
            let rows = s.rows(&format!(
                "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = lower({}) AND table_name = lower({}) ORDER BY ordinal_position",
                sql::string(&name.schema),
                sql::string(&name.table)
            ))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn prepare_sources(&self, sources: &[&Source], _root: &Path) -> Result<()> {
        match sources.iter().find(|s| s.location.is_some()) {
            Some(source) => Err(WarehouseError::new(format!(
                "source {} has `location:` files, which the PostgreSQL warehouse does not read; \
                 load them into the table {} (e.g. with COPY) and remove `location:`",
                source.name, source.name
            ))),
            None => Ok(()),
        }
    }

    fn max_time(&self, source: &Source) -> Result<Option<Timestamp>> {
        let column = source.time_column.as_deref().ok_or_else(|| {
            WarehouseError::new(format!("source {} has no time_column", source.name))
        })?;
        let name = PhysicalName::prod(&source.name);
        self.with_client(|s| {
            let rows = s.rows(&sql::max_time(&name, column)).map_err(|e| {
                WarehouseError::new(format!(
                    "cannot read max({column}) of source {}: {}",
                    source.name, e.message
                ))
            })?;
            Ok(rows
                .first()
                .and_then(|r| r.get::<_, Option<i64>>(0))
                .map(crate::time::from_micros))
        })
    }

    fn create_schemas(&self, schemas: &[String]) -> Result<()> {
        let mut batch =
            String::from("SELECT pg_advisory_xact_lock(hashtext('derived.schemas'));\n");
        for schema in schemas {
            batch.push_str(&format!(
                "CREATE SCHEMA IF NOT EXISTS {};\n",
                Dialect::Ansi.name(schema)
            ));
        }
        batch.push_str(sql::SETUP);
        self.with_client(|s| s.in_transaction(|| s.batch(&batch)))
    }

    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome> {
        self.with_client(|s| {
            within(
                request.timeout,
                || s.cancel(),
                || s.write(request, request.target, true),
            )
        })
    }

    fn rebuild(
        &self,
        rebuild: &Rebuild,
        build: &mut dyn FnMut(&dyn FreshTable) -> Result<()>,
    ) -> Result<u64> {
        let fresh = sql::companion(rebuild.target, "rebuild");
        self.with_client(|s| {
            within(
                rebuild.timeout,
                || s.cancel(),
                || s.rebuild(rebuild, &fresh, build),
            )
        })
    }

    fn check(&self, rows: &PhysicalName, checks: &[PreparedCheck]) -> Result<Vec<CheckOutcome>> {
        self.with_client(|s| match s.run_checks(&table_sql(rows), checks) {
            Ok(outcomes) => Ok(outcomes),
            Err(e) if !e.checks.is_empty() => Ok(e.checks),
            Err(e) => Err(e),
        })
    }

    fn committed(&self, run_ids: &[RunId]) -> Result<BTreeMap<RunId, u64>> {
        if run_ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let list: Vec<String> = run_ids.iter().map(i64::to_string).collect();
        self.with_client(|s| {
            Ok(s.rows(&format!(
                "SELECT run_id, rows_written FROM {}.commits WHERE run_id IN ({})",
                sql::INTERNAL_SCHEMA,
                list.join(", ")
            ))?
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1) as u64))
            .collect())
        })
    }

    fn query(&self, sql: &str) -> Result<QueryResult> {
        self.with_client(|s| s.json_rows(sql))
    }

    fn query_read_only(&self, sql: &str) -> Result<QueryResult> {
        self.with_client(|s| {
            s.batch("BEGIN READ ONLY")?;
            let result = s.json_rows(sql);
            s.batch("ROLLBACK")?;
            result
        })
    }

    fn drop_env(&self, env: &Env) -> Result<usize> {
        if env.is_prod() {
            return Err(WarehouseError::new(
                "refusing to drop the production environment",
            ));
        }
        self.with_client(|s| {
            let schemas: Vec<String> = s
                .rows(&format!(
                    "SELECT schema_name FROM information_schema.schemata WHERE starts_with(schema_name, {})",
                    sql::string(&env.schema(""))
                ))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let batch: String = schemas
                .iter()
                .map(|s| format!("DROP SCHEMA IF EXISTS {} CASCADE;", quote(s)))
                .collect();
            s.batch(&batch)?;
            Ok(schemas.len())
        })
    }

    fn table_exists(&self, name: &PhysicalName) -> Result<bool> {
        self.with_client(|s| {
            Ok(s.count(&format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = lower({}) AND table_name = lower({})",
                sql::string(&name.schema),
                sql::string(&name.table)
            ))? > 0)
        })
    }
}
