//! The embedded DuckDB warehouse: nothing to install, one file.
//!
//! Every write is one transaction that also records the run id in
//! `_derived.commits`, so a run whose process died can be told apart from one
//! that committed before the metadata log heard about it.

use super::*;
use crate::project::checks::{ROWS, SAMPLE_ROWS};
use crate::project::Strategy;
use crate::time::from_micros;
use ::duckdb::types::{TimeUnit, Value};
use ::duckdb::{AccessMode, Config, Connection};
use std::sync::Mutex;

pub struct DuckDbWarehouse {
    base: Mutex<Connection>,
    pool: Mutex<Vec<Connection>>,
}

pub(crate) fn err(e: ::duckdb::Error) -> WarehouseError {
    let message = e.to_string();
    WarehouseError {
        kind: failure_kind(&message),
        ..WarehouseError::new(message)
    }
}

/// DuckDB names the class of every error at the start of its message.
fn failure_kind(message: &str) -> FailureKind {
    const STATEMENT: [&str; 4] = [
        "Parser Error",
        "Binder Error",
        "Catalog Error",
        "Not implemented Error",
    ];
    const DATA: [&str; 5] = [
        "Conversion Error",
        "Constraint Error",
        "Invalid Input Error",
        "Out of Range Error",
        "Mismatch Type Error",
    ];
    if STATEMENT.iter().any(|class| message.starts_with(class)) {
        FailureKind::Statement
    } else if DATA.iter().any(|class| message.starts_with(class)) {
        FailureKind::Data
    } else {
        FailureKind::Unknown
    }
}

const SETUP: &str = "CREATE SCHEMA IF NOT EXISTS _derived; \
    CREATE TABLE IF NOT EXISTS _derived.commits (run_id BIGINT NOT NULL, target VARCHAR NOT NULL, rows_written BIGINT NOT NULL, committed_at TIMESTAMP NOT NULL); \
    CREATE TABLE IF NOT EXISTS _derived.source_views (definition VARCHAR NOT NULL)";

impl DuckDbWarehouse {
    pub fn open(path: &Path) -> Result<DuckDbWarehouse> {
        let conn = crate::metadata::duckdb::open_file(path).map_err(WarehouseError::new)?;
        conn.execute_batch(SETUP).map_err(err)?;
        Ok(DuckDbWarehouse {
            base: Mutex::new(conn),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// Opens an existing warehouse for reading only (`derived query`).
    pub fn open_read_only(path: &Path) -> Result<DuckDbWarehouse> {
        if !path.exists() {
            return Err(WarehouseError::new(format!(
                "the warehouse {} does not exist yet; run `derived run` first",
                path.display()
            )));
        }
        let config = Config::default()
            .access_mode(AccessMode::ReadOnly)
            .map_err(err)?;
        let conn = Connection::open_with_flags(path, config).map_err(err)?;
        conn.execute_batch("SET autoinstall_known_extensions = false")
            .map_err(err)?;
        Ok(DuckDbWarehouse {
            base: Mutex::new(conn),
            pool: Mutex::new(Vec::new()),
        })
    }

    pub fn in_memory() -> Result<DuckDbWarehouse> {
        let conn = Connection::open_in_memory().map_err(err)?;
        conn.execute_batch(SETUP).map_err(err)?;
        Ok(DuckDbWarehouse {
            base: Mutex::new(conn),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// A connection of its own for one thread, returned to the pool afterwards.
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = self
                    .base
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .try_clone()
                    .map_err(err)?;
                c.execute_batch("SET autoinstall_known_extensions = false")
                    .map_err(err)?;
                c
            }
        };
        let result = f(&conn);
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        result
    }
}

/// A rebuild's fresh table on this connection.
struct Fresh<'c> {
    conn: &'c Connection,
    table: &'c PhysicalName,
}

impl FreshTable for Fresh<'_> {
    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome> {
        let into_fresh = WriteRequest {
            target: self.table,
            ..*request
        };
        write_into(self.conn, &into_fresh, |_, _| Ok(()))
    }
}

/// Lets `build` fill `fresh`, then swaps it in for the target in one
/// transaction with the commit record; a failure drops `fresh`.
fn rebuild_into(
    conn: &Connection,
    rebuild: &Rebuild,
    fresh: &PhysicalName,
    build: &mut dyn FnMut(&dyn FreshTable) -> Result<()>,
) -> Result<u64> {
    let target = rebuild.target;
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", table_sql(fresh)))
        .map_err(err)?;
    let built = build(&Fresh { conn, table: fresh });
    let swapped = built.and_then(|()| {
        in_transaction(conn, |conn| {
            let rows = row_count(conn, &table_sql(fresh))?;
            conn.execute_batch(&format!(
                "DROP TABLE IF EXISTS {}; ALTER TABLE {} RENAME TO {}",
                table_sql(target),
                table_sql(fresh),
                quote(&target.table)
            ))
            .map_err(err)?;
            record_commit(conn, rebuild.run_id, target, rows)?;
            Ok(rows)
        })
    });
    if swapped.is_err() {
        let _ = conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", table_sql(fresh)));
    }
    swapped
}

pub(crate) fn in_transaction<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    conn.execute_batch("BEGIN TRANSACTION").map_err(err)?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("COMMIT").map_err(err)?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

pub(crate) fn literal(t: Timestamp) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

pub(crate) fn string_literal(s: &str) -> String {
    Dialect::Ansi.string(s)
}

/// The query's rows with declared column types applied (a failed cast fails the run).
fn typed_select(sql: &str, columns: &[Column]) -> String {
    let sql = sql.trim().trim_end_matches(';');
    let casts: Vec<String> = columns
        .iter()
        .filter_map(|c| {
            c.data_type
                .as_ref()
                .map(|t| format!("CAST({} AS {t}) AS {}", quote(&c.name), quote(&c.name)))
        })
        .collect();
    if casts.is_empty() {
        format!("SELECT * FROM (\n{sql}\n) AS q")
    } else {
        format!(
            "SELECT * REPLACE ({}) FROM (\n{sql}\n) AS q",
            casts.join(", ")
        )
    }
}

fn column_types(conn: &Connection, table: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT column_name, column_type FROM (DESCRIBE {table})"
        ))
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(err)?;
    rows.collect::<::duckdb::Result<Vec<_>>>().map_err(err)
}

fn record_commit(conn: &Connection, run_id: RunId, target: &PhysicalName, rows: u64) -> Result<()> {
    conn.execute(
        "INSERT INTO _derived.commits VALUES (?, ?, ?, now())",
        ::duckdb::params![run_id, target.to_string(), rows as i64],
    )
    .map_err(err)?;
    Ok(())
}

/// The produced rows, staged in a temporary table of this connection.
struct Staged {
    name: String,
    columns: Vec<(String, String)>,
    /// Columns added to the target for these rows.
    added: Vec<String>,
}

/// Writes `request`: replace, and the first append into a missing table, in
/// one transaction; otherwise append and merge stage their rows first, then
/// apply them in a second transaction. `finish` runs inside the publishing
/// transaction, after the checks passed.
fn write_into(
    conn: &Connection,
    request: &WriteRequest,
    finish: impl FnOnce(&Connection, u64) -> Result<()>,
) -> Result<WriteOutcome> {
    let existing = match request.strategy {
        Strategy::Replace => None,
        _ => existing_columns(conn, request.target)?,
    };
    type Direct = fn(&Connection, &WriteRequest) -> Result<u64>;
    let direct: Option<Direct> = match (request.strategy, &existing) {
        (Strategy::Replace, _) => Some(write_replace),
        (Strategy::Append, None) => Some(create_appended),
        _ => None,
    };
    if let Some(write) = direct {
        return in_transaction(conn, |c| {
            let rows = write(c, request)?;
            let checks = run_checks(c, &table_sql(request.target), request.checks)?;
            finish(c, rows)?;
            Ok(WriteOutcome {
                rows,
                checks,
                ..WriteOutcome::default()
            })
        });
    }
    let staged = in_transaction(conn, |c| stage(c, request, existing));
    let result = staged
        .as_ref()
        .map_err(|e| WarehouseError {
            message: e.message.clone(),
            checks: e.checks.clone(),
            kind: e.kind,
        })
        .and_then(|staged| {
            in_transaction(conn, |c| {
                let checks = run_checks(c, &staged.name, request.checks)?;
                let rows = match request.strategy {
                    Strategy::Append => apply_append(c, request, staged)?,
                    _ => apply_merge(c, request, staged)?,
                };
                finish(c, rows)?;
                Ok(WriteOutcome {
                    rows,
                    checks,
                    added_columns: staged.added.clone(),
                    ..WriteOutcome::default()
                })
            })
        });
    if let Ok(staged) = staged {
        let _ = conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", staged.name));
    }
    result
}

fn write_replace(conn: &Connection, request: &WriteRequest) -> Result<u64> {
    let target = create_target(conn, "CREATE OR REPLACE TABLE", request)?;
    row_count(conn, &target)
}

/// Creates the target from the query's typed rows with `create` (`CREATE
/// TABLE`, `CREATE OR REPLACE TABLE`); the target as SQL.
fn create_target(conn: &Connection, create: &str, request: &WriteRequest) -> Result<String> {
    let target = table_sql(request.target);
    conn.execute_batch(&format!(
        "{create} {target} AS {}",
        typed_select(request.sql, request.columns)
    ))
    .map_err(err)?;
    Ok(target)
}

fn row_count(conn: &Connection, table: &str) -> Result<u64> {
    let rows: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .map_err(err)?;
    Ok(rows as u64)
}

/// The table's columns, or None when it does not exist yet.
fn existing_columns(
    conn: &Connection,
    table: &PhysicalName,
) -> Result<Option<Vec<(String, String)>>> {
    match column_types(conn, &table_sql(table)) {
        Ok(columns) => Ok(Some(columns)),
        Err(e) if e.message.starts_with("Catalog Error") => Ok(None),
        Err(e) => Err(e),
    }
}

/// An append's first rows, written straight into the new table: no staged copy
/// to make and move. Its shape and interval are checked before the commit.
fn create_appended(conn: &Connection, request: &WriteRequest) -> Result<u64> {
    let target = create_target(conn, "CREATE TABLE", request)?;
    output_has(request, &column_types(conn, &target)?)?;
    rows_inside_interval(conn, request, &target)?;
    row_count(conn, &target)
}

/// The columns the strategy needs are among the query's output `columns`.
fn output_has(request: &WriteRequest, columns: &[(String, String)]) -> Result<()> {
    let needed: Vec<&str> = match request.strategy {
        Strategy::Append => request.time_column.into_iter().collect(),
        _ => request.unique_key.iter().map(String::as_str).collect(),
    };
    for column in needed {
        if !columns.iter().any(|(c, _)| c == column) {
            let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            return Err(WarehouseError::statement(format!(
                "`{column}` is not among the query's output columns ({})",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Stages the query's rows, checks their shape, and creates the target table when
/// missing (`existing` holds its columns otherwise). The table is created in a
/// transaction of its own: DuckDB 2.0.0 loses the rows of a large insert into a
/// table created in the same transaction.
fn stage(
    conn: &Connection,
    request: &WriteRequest,
    existing: Option<Vec<(String, String)>>,
) -> Result<Staged> {
    let name = format!("__derived_stage_{}", request.run_id);
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {name} AS {}",
        typed_select(request.sql, request.columns)
    ))
    .map_err(err)?;
    let columns = column_types(conn, &name)?;
    output_has(request, &columns)?;
    if request.strategy == Strategy::Append {
        rows_inside_interval(conn, request, &name)?;
    }
    let existing = match existing {
        Some(columns) => columns,
        None => {
            conn.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {} AS SELECT * FROM {name} LIMIT 0",
                table_sql(request.target)
            ))
            .map_err(err)?;
            column_types(conn, &table_sql(request.target))?
        }
    };
    let mut added = Vec::new();
    for (column, data_type) in columns_to_add(&columns, &existing) {
        conn.execute_batch(&format!(
            "ALTER TABLE {} ADD COLUMN {} {data_type}",
            table_sql(request.target),
            quote(column)
        ))
        .map_err(err)?;
        added.push(column.clone());
    }
    Ok(Staged {
        name,
        columns,
        added,
    })
}

fn interval_filter(column: &str, interval: Interval) -> String {
    format!(
        "{c} >= {} AND {c} < {}",
        literal(interval.start()),
        literal(interval.end()),
        c = quote(column)
    )
}

fn rows_inside_interval(conn: &Connection, request: &WriteRequest, stage: &str) -> Result<()> {
    let time_column = request.time_column.unwrap_or_default();
    let inside = interval_filter(time_column, request.interval);
    let outside: Option<Option<String>> = conn
        .query_row(
            &format!(
                "SELECT CAST({c} AS VARCHAR) FROM {stage} WHERE NOT ({inside}) OR {c} IS NULL LIMIT 1",
                c = quote(time_column)
            ),
            [],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            ::duckdb::Error::QueryReturnedNoRows => Ok(None),
            e => Err(err(e)),
        })?;
    match outside {
        None => Ok(()),
        Some(value) => Err(WarehouseError::data(format!(
            "a row has {time_column} = {}, outside the interval {}; an append table's rows must fall inside the interval being built",
            value.unwrap_or_else(|| "NULL".into()),
            request.interval
        ))),
    }
}

fn apply_append(conn: &Connection, request: &WriteRequest, staged: &Staged) -> Result<u64> {
    let target = table_sql(request.target);
    let inside = interval_filter(request.time_column.unwrap_or_default(), request.interval);
    conn.execute_batch(&format!("DELETE FROM {target} WHERE {inside}"))
        .map_err(err)?;
    let rows = conn
        .execute(
            &format!("INSERT INTO {target} BY NAME SELECT * FROM {}", staged.name),
            [],
        )
        .map_err(err)?;
    Ok(rows as u64)
}

/// Runs every check on `rows`; an `error` check with offending rows fails the write.
fn run_checks(
    conn: &Connection,
    rows: &str,
    checks: &[PreparedCheck],
) -> Result<Vec<CheckOutcome>> {
    let mut outcomes = Vec::with_capacity(checks.len());
    for check in checks {
        let sql = Dialect::Ansi.offending_rows(check).replace(ROWS, rows);
        let failing: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM (\n{sql}\n) AS offending"),
                [],
                |r| r.get(0),
            )
            .map_err(|e| WarehouseError::new(format!("check {} could not run: {e}", check.name)))?;
        let sample = if failing > 0 {
            sample_rows(conn, &sql)?
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

fn sample_rows(conn: &Connection, sql: &str) -> Result<Vec<serde_json::Value>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT * FROM (\n{sql}\n) AS offending LIMIT {SAMPLE_ROWS}"
        ))
        .map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let names = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut object = serde_json::Map::new();
        for (i, name) in names.iter().enumerate() {
            object.insert(name.clone(), to_json(row.get::<_, Value>(i).map_err(err)?));
        }
        out.push(serde_json::Value::Object(object));
    }
    Ok(out)
}

/// How one statement's rows for a key combine, and how they merge into the table.
fn combine(column: &str, data_type: &str, rule: MergeRule, time_column: Option<&str>) -> String {
    let c = quote(column);
    let order = time_column.map(quote);
    match (rule, order) {
        (MergeRule::Min, _) => format!("min({c})"),
        (MergeRule::Max, _) => format!("max({c})"),
        (MergeRule::Sum, _) => format!("CAST(sum({c}) AS {data_type})"),
        (MergeRule::Overwrite, Some(t)) => format!("arg_max_null({c}, {t})"),
        (MergeRule::Keep, Some(t)) => format!("arg_min_null({c}, {t})"),
        (MergeRule::Overwrite | MergeRule::Keep, None) => format!("any_value({c})"),
    }
}

fn apply_merge(conn: &Connection, request: &WriteRequest, staged: &Staged) -> Result<u64> {
    let is_key = |c: &str| request.unique_key.iter().any(|k| k == c);
    let rule = |c: &str| {
        request
            .merge
            .get(c)
            .copied()
            .unwrap_or(MergeRule::Overwrite)
    };
    let keys: Vec<String> = request.unique_key.iter().map(|k| quote(k)).collect();
    let values = staged.columns.iter().filter(|(c, _)| !is_key(c));
    let mut select = keys.clone();
    select.extend(values.clone().map(|(c, ty)| {
        format!(
            "{} AS {}",
            combine(c, ty, rule(c), request.time_column),
            quote(c)
        )
    }));
    let combined = format!(
        "SELECT {} FROM {} GROUP BY {}",
        select.join(", "),
        staged.name,
        keys.join(", ")
    );
    let on: Vec<String> = keys
        .iter()
        .map(|k| format!("t.{k} IS NOT DISTINCT FROM s.{k}"))
        .collect();
    let sets: Vec<String> = values
        .filter_map(|(c, _)| {
            Dialect::Ansi
                .merged(c, rule(c))
                .map(|v| format!("{} = {v}", quote(c)))
        })
        .collect();
    let names: Vec<String> = staged.columns.iter().map(|(c, _)| quote(c)).collect();
    let inserted: Vec<String> = names.iter().map(|c| format!("s.{c}")).collect();
    let when_matched = if sets.is_empty() {
        String::new()
    } else {
        format!("WHEN MATCHED THEN UPDATE SET {} ", sets.join(", "))
    };
    let rows = conn
        .execute(
            &format!(
                "MERGE INTO {} AS t USING ({combined}) AS s ON {} {when_matched}WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
                table_sql(request.target),
                on.join(" AND "),
                names.join(", "),
                inserted.join(", ")
            ),
            [],
        )
        .map_err(err)?;
    Ok(rows as u64)
}

fn read_function(format: &str, path: &str) -> String {
    let path = string_literal(path);
    match format {
        "csv" => format!("read_csv_auto({path})"),
        "json" => format!("read_json_auto({path})"),
        _ => format!("read_parquet({path})"),
    }
}

impl Warehouse for DuckDbWarehouse {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn dialect(&self) -> Dialect {
        Dialect::Ansi
    }

    fn columns(&self, name: &PhysicalName) -> Result<Vec<(String, String)>> {
        self.with_conn(|c| column_types(c, &table_sql(name)))
    }

    fn prepare_sources(&self, sources: &[&Source], root: &Path) -> Result<()> {
        let mut batch = String::new();
        for source in sources {
            let Some(location) = &source.location else {
                continue;
            };
            let path = root.join(&location.path);
            let target = PhysicalName::prod(&source.name);
            batch.push_str(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}; CREATE OR REPLACE VIEW {} AS SELECT * FROM {};\n",
                quote(&target.schema),
                table_sql(&target),
                read_function(&location.format, &path.to_string_lossy())
            ));
        }
        if batch.is_empty() {
            return Ok(());
        }
        // Views re-read their globs on every query; re-creating identical ones
        // would only rewrite the catalog on every run.
        self.with_conn(|c| {
            let current: Option<String> = c
                .query_row("SELECT definition FROM _derived.source_views", [], |r| r.get(0))
                .ok();
            if current.as_deref() == Some(batch.as_str()) {
                return Ok(());
            }
            let all = c.execute_batch(&format!(
                "BEGIN TRANSACTION; {batch} DELETE FROM _derived.source_views; INSERT INTO _derived.source_views VALUES ({}); COMMIT;",
                string_literal(&batch)
            ));
            if all.is_ok() {
                return Ok(());
            }
            let _ = c.execute_batch("ROLLBACK");
            // A source whose files do not exist yet simply has no data.
            for statement in batch.lines() {
                if let Err(e) = c.execute_batch(statement) {
                    if !e.to_string().contains("No files found") {
                        return Err(err(e));
                    }
                }
            }
            Ok(())
        })
    }

    fn max_time(&self, source: &Source) -> Result<Option<Timestamp>> {
        let column = source.time_column.as_deref().ok_or_else(|| {
            WarehouseError::new(format!("source {} has no time_column", source.name))
        })?;
        let target = PhysicalName::prod(&source.name);
        if source.location.is_some() && !self.table_exists(&target)? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT epoch_us(max(CAST({} AS TIMESTAMP))) FROM {}",
            quote(column),
            table_sql(&target)
        );
        self.with_conn(|c| {
            c.query_row(&sql, [], |r| r.get::<_, Option<i64>>(0))
                .map(|v| v.map(from_micros))
                .map_err(|e| {
                    WarehouseError::new(format!(
                        "cannot read max({column}) of source {}: {e}",
                        source.name
                    ))
                })
        })
    }

    fn run_concurrently(&self, jobs: usize) -> Result<()> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cores.div_ceil(jobs.max(1));
        self.base
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .execute_batch(&format!("SET threads = {threads}"))
            .map_err(err)
    }

    fn create_schemas(&self, schemas: &[String]) -> Result<()> {
        let batch: String = schemas
            .iter()
            .map(|s| format!("CREATE SCHEMA IF NOT EXISTS {};", quote(s)))
            .collect();
        self.with_conn(|c| c.execute_batch(&batch).map_err(err))
    }

    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome> {
        self.with_conn(|conn| {
            let handle = conn.interrupt_handle();
            within(
                request.timeout,
                move || handle.interrupt(),
                || {
                    write_into(conn, request, |c, rows| {
                        record_commit(c, request.run_id, request.target, rows)
                    })
                },
            )
        })
    }

    fn rebuild(
        &self,
        rebuild: &Rebuild,
        build: &mut dyn FnMut(&dyn FreshTable) -> Result<()>,
    ) -> Result<u64> {
        let fresh = PhysicalName {
            schema: rebuild.target.schema.clone(),
            table: format!("{}__derived_rebuild", rebuild.target.table),
        };
        self.with_conn(|conn| {
            let handle = conn.interrupt_handle();
            within(
                rebuild.timeout,
                move || handle.interrupt(),
                || rebuild_into(conn, rebuild, &fresh, build),
            )
        })
    }

    fn check(&self, rows: &PhysicalName, checks: &[PreparedCheck]) -> Result<Vec<CheckOutcome>> {
        self.with_conn(|conn| match run_checks(conn, &table_sql(rows), checks) {
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
        let sql = format!(
            "SELECT run_id, rows_written FROM _derived.commits WHERE run_id IN ({})",
            list.join(",")
        );
        self.with_conn(|c| {
            let mut stmt = c.prepare(&sql).map_err(err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64))
                })
                .map_err(err)?;
            rows.collect::<::duckdb::Result<BTreeMap<_, _>>>()
                .map_err(err)
        })
    }

    fn query(&self, sql: &str) -> Result<QueryResult> {
        self.with_conn(|c| {
            let mut stmt = c.prepare(sql).map_err(err)?;
            let mut rows = stmt.query([]).map_err(err)?;
            let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let values = (0..columns.len())
                    .map(|i| row.get::<_, Value>(i).map(to_json))
                    .collect::<::duckdb::Result<Vec<_>>>()
                    .map_err(err)?;
                out.push(values);
            }
            Ok(QueryResult { columns, rows: out })
        })
    }

    fn drop_env(&self, env: &Env) -> Result<usize> {
        if env.is_prod() {
            return Err(WarehouseError::new(
                "refusing to drop the production environment",
            ));
        }
        let prefix = env.schema("");
        let schemas: Vec<String> = self
            .query("SELECT schema_name FROM information_schema.schemata")?
            .rows
            .iter()
            .filter_map(|r| r.first().and_then(|v| v.as_str()).map(str::to_string))
            .filter(|s| s.starts_with(&prefix))
            .collect();
        let batch: String = schemas
            .iter()
            .map(|s| format!("DROP SCHEMA IF EXISTS {} CASCADE;", quote(s)))
            .collect();
        self.with_conn(|c| c.execute_batch(&batch).map_err(err))?;
        Ok(schemas.len())
    }

    fn table_exists(&self, name: &PhysicalName) -> Result<bool> {
        self.with_conn(|c| {
            c.query_row(
                "SELECT count(*) > 0 FROM information_schema.tables WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
                ::duckdb::params![name.schema, name.table],
                |r| r.get(0),
            )
            .map_err(err)
        })
    }
}

fn micros(unit: TimeUnit, value: i64) -> i64 {
    match unit {
        TimeUnit::Second => value * 1_000_000,
        TimeUnit::Millisecond => value * 1_000,
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value / 1_000,
    }
}

/// JSON for one DuckDB value; timestamps in RFC 3339 UTC.
pub fn to_json(value: Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(b),
        Value::TinyInt(v) => v.into(),
        Value::SmallInt(v) => v.into(),
        Value::Int(v) => v.into(),
        Value::BigInt(v) => v.into(),
        Value::UTinyInt(v) => v.into(),
        Value::USmallInt(v) => v.into(),
        Value::UInt(v) => v.into(),
        Value::UBigInt(v) => v.into(),
        Value::HugeInt(v) => i64::try_from(v).map_or_else(|_| J::String(v.to_string()), J::from),
        Value::Float(v) => serde_json::Number::from_f64(v as f64).map_or(J::Null, J::Number),
        Value::Double(v) => serde_json::Number::from_f64(v).map_or(J::Null, J::Number),
        Value::Decimal(d) => d
            .to_string()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(J::Null, J::Number),
        Value::Timestamp(unit, v) => {
            J::String(crate::time::format_ts_precise(from_micros(micros(unit, v))))
        }
        Value::Date32(days) => J::String(
            (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
                + chrono::Duration::days(days as i64))
            .to_string(),
        ),
        Value::Text(s) | Value::Enum(s) => J::String(s),
        Value::List(items) | Value::Array(items) => {
            J::Array(items.into_iter().map(to_json).collect())
        }
        Value::Struct(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v.clone())))
                .collect(),
        ),
        other => J::String(format!("{other:?}")),
    }
}
