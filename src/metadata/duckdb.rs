//! The metadata log in an embedded DuckDB file (the default store).

use super::*;
use crate::project::checks::CheckSeverity;
use crate::time::{from_micros, to_micros};
use ::duckdb::{params, Connection};
use std::path::Path;
use std::sync::Mutex;

/// Schema migrations, applied in order; the store records the highest applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/duckdb/0001_runs.sql")),
    (2, include_str!("../../migrations/duckdb/0002_checks.sql")),
    (
        3,
        include_str!("../../migrations/duckdb/0003_job_usage.sql"),
    ),
    (4, include_str!("../../migrations/duckdb/0004_notes.sql")),
    (
        5,
        include_str!("../../migrations/duckdb/0005_column_impact.sql"),
    ),
];

pub struct DuckDbMetadata {
    conn: Mutex<Connection>,
}

fn backend(e: ::duckdb::Error) -> MetadataError {
    MetadataError::Backend(e.to_string())
}

impl DuckDbMetadata {
    pub fn open(path: &Path) -> Result<DuckDbMetadata> {
        let conn = open_file(path).map_err(MetadataError::Backend)?;
        Self::migrate(&conn, &path.display().to_string())?;
        Ok(DuckDbMetadata {
            conn: Mutex::new(conn),
        })
    }

    pub fn in_memory() -> Result<DuckDbMetadata> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        Self::migrate(&conn, ":memory:")?;
        Ok(DuckDbMetadata {
            conn: Mutex::new(conn),
        })
    }

    fn migrate(conn: &Connection, location: &str) -> Result<()> {
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .map_err(backend)?;
        let current: i64 = conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(backend)?;
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > known {
            return Err(MetadataError::TooNew {
                location: location.to_string(),
                found: current,
                known,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            let batch = format!(
                "BEGIN TRANSACTION; {sql}; INSERT INTO schema_version VALUES ({version}); COMMIT;"
            );
            conn.execute_batch(&batch).map_err(backend)?;
        }
        Ok(())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const RECORD_COLUMNS: &str = "run_id, table_name, env, action, epoch_us(interval_start), epoch_us(interval_end), status, \
     epoch_us(started_at), epoch_us(finished_at), fingerprint, git_commit, triggered_by, epoch_us(as_of), rows_written, error, sql, upstream_runs, bytes_processed, slot_ms, note";

fn record(row: &::duckdb::Row) -> ::duckdb::Result<RunRecord> {
    let upstream: String = row.get(16)?;
    Ok(RunRecord {
        run_id: row.get(0)?,
        table_name: row.get(1)?,
        env: row.get(2)?,
        action: row.get(3)?,
        interval_start: row.get::<_, Option<i64>>(4)?.map(from_micros),
        interval_end: row.get::<_, Option<i64>>(5)?.map(from_micros),
        status: RunStatus::parse(&row.get::<_, String>(6)?),
        started_at: from_micros(row.get(7)?),
        finished_at: row.get::<_, Option<i64>>(8)?.map(from_micros),
        fingerprint: row.get(9)?,
        git_commit: row.get(10)?,
        triggered_by: row.get(11)?,
        as_of: from_micros(row.get(12)?),
        rows_written: row.get(13)?,
        error: row.get(14)?,
        sql: row.get(15)?,
        upstream_runs: serde_json::from_str(&upstream).unwrap_or_default(),
        bytes_processed: row.get(17)?,
        slot_ms: row.get(18)?,
        note: row.get(19)?,
        checks: Vec::new(),
    })
}

/// Rewrites, and the successful runs near the ranges they rewrote.
fn load_rewrites(
    conn: &Connection,
    env: &str,
    slack: crate::time::Duration,
    snapshot: &mut LogSnapshot,
) -> Result<()> {
    let actions = REWRITE_ACTIONS.map(|a| format!("'{a}'")).join(", ");
    let mut rewrites = conn
        .prepare(&format!(
            "SELECT table_name, run_id, epoch_us(interval_start), epoch_us(interval_end), changed_columns FROM runs
             WHERE env = ? AND status = 'success' AND action IN ({actions}) AND interval_start IS NOT NULL ORDER BY run_id"
        ))
        .map_err(backend)?;
    let rows = rewrites
        .query_map([env], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .map_err(backend)?;
    for row in rows {
        let (table, run_id, s, e, columns) = row.map_err(backend)?;
        if let Some(interval) = interval_of(Some(s), Some(e)) {
            snapshot.rewrites.push(Rewrite {
                table: TableName::from_reference(&table),
                run_id,
                interval,
                columns: from_json(columns),
            });
        }
    }
    if snapshot.rewrites.is_empty() {
        return Ok(());
    }
    let mut nearby = conn
        .prepare(&format!(
            "WITH w AS (SELECT DISTINCT interval_start AS s, interval_end AS e FROM runs
                        WHERE env = ? AND status = 'success' AND action IN ({actions}) AND interval_start IS NOT NULL)
             SELECT table_name, run_id, epoch_us(interval_start), epoch_us(interval_end) FROM runs t
             WHERE env = ? AND status = 'success' AND interval_start IS NOT NULL AND action <> 'export'
               AND EXISTS (SELECT 1 FROM w WHERE w.s < t.interval_end AND w.e > t.interval_start - to_seconds(?))"
        ))
        .map_err(backend)?;
    let rows = nearby
        .query_map(params![env, env, slack.seconds()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(backend)?;
    for row in rows {
        let (table, run_id, s, e) = row.map_err(backend)?;
        if let Some(interval) = interval_of(Some(s), Some(e)) {
            snapshot
                .tables
                .entry(TableName::from_reference(&table))
                .or_default()
                .nearby_runs
                .push((run_id, interval));
        }
    }
    Ok(())
}

/// Each table's latest pause or resume row: paused when it is a pause.
fn load_pauses(conn: &Connection, env: &str, snapshot: &mut LogSnapshot) -> Result<()> {
    let mut stmt = conn
        .prepare(
            "SELECT table_name, triggered_by, epoch_us(started_at), note, run_id, action FROM runs
             WHERE env = ? AND action IN ('pause', 'resume')
             QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY run_id DESC) = 1",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([env], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Pause {
                    by: r.get(1)?,
                    at: from_micros(r.get(2)?),
                    reason: r.get(3)?,
                },
                r.get::<_, RunId>(4)?,
                r.get::<_, RunAction>(5)? == RunAction::Pause,
            ))
        })
        .map_err(backend)?;
    for row in rows {
        let (table, pause, run_id, paused) = row.map_err(backend)?;
        let log = snapshot
            .tables
            .entry(TableName::from_reference(&table))
            .or_default();
        log.last_pause_change = Some(run_id);
        log.paused = paused.then_some(pause);
    }
    Ok(())
}

fn load_failures(conn: &Connection, env: &str, snapshot: &mut LogSnapshot) -> Result<()> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT table_name, run_id, action, fingerprint, error, epoch_us(s), epoch_us(e),
                    epoch_us(interval_start), epoch_us(interval_end)
             FROM ({FAILURES_SQL}) ORDER BY run_id"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map([env], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, RunId>(1)?,
                r.get::<_, RunAction>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                interval_of(r.get(5)?, r.get(6)?),
                interval_of(r.get(7)?, r.get(8)?),
            ))
        })
        .map_err(backend)?;
    let mut found = Vec::new();
    for row in rows {
        let (table, run_id, action, fingerprint, error, interval, later_success) =
            row.map_err(backend)?;
        let Some(interval) = interval else { continue };
        found.push(FailureRow {
            table,
            failure: Failure {
                run_id,
                action,
                fingerprint,
                error,
                interval,
            },
            later_success,
        });
    }
    settle_failures(snapshot, found);
    Ok(())
}

fn interval_of(start: Option<i64>, end: Option<i64>) -> Option<Interval> {
    Interval::new(from_micros(start?), from_micros(end?))
}

fn now_micros() -> i64 {
    to_micros(chrono::Utc::now())
}

impl MetadataStore for DuckDbMetadata {
    fn begin_run(&self, run: &NewRun) -> Result<RunId> {
        let upstream = serde_json::to_string(&run.upstream_runs).unwrap_or_else(|_| "[]".into());
        self.conn()
            .query_row(
                "INSERT INTO runs (table_name, env, action, interval_start, interval_end, status, started_at, fingerprint, \
                 git_commit, triggered_by, as_of, sql, upstream_runs, read_watermark, note, column_fingerprints, changed_columns) \
                 VALUES (?, ?, ?, make_timestamp(?), make_timestamp(?), 'running', make_timestamp(?), ?, ?, ?, make_timestamp(?), ?, ?, make_timestamp(?), ?, ?, ?) \
                 RETURNING run_id",
                params![
                    run.table.as_str(),
                    run.env,
                    run.action.name(),
                    run.interval.map(|i| to_micros(i.start())),
                    run.interval.map(|i| to_micros(i.end())),
                    now_micros(),
                    run.fingerprint,
                    run.git_commit,
                    run.triggered_by,
                    to_micros(run.as_of),
                    run.sql,
                    upstream,
                    run.read_watermark.map(to_micros),
                    run.note,
                    to_json(&run.column_fingerprints),
                    to_json(&run.changed_columns),
                ],
                |r| r.get(0),
            )
            .map_err(backend)
    }

    fn finish_run(
        &self,
        run_id: RunId,
        status: RunStatus,
        rows_written: Option<i64>,
        error: Option<&str>,
        usage: JobUsage,
    ) -> Result<()> {
        let number = |n: Option<u64>| n.map(|n| n as i64);
        self.conn()
            .execute(
                "UPDATE runs SET status = ?, finished_at = make_timestamp(?), rows_written = ?, error = ?, \
                 bytes_processed = ?, slot_ms = ? WHERE run_id = ? AND status = 'running'",
                params![
                    status.name(),
                    now_micros(),
                    rows_written,
                    error,
                    number(usage.bytes_processed),
                    number(usage.slot_ms),
                    run_id
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    /// One connection makes every write in id order, and no row is ever
    /// deleted: each run raises the largest id and then leaves `running`, so
    /// the two numbers never repeat.
    fn version(&self) -> Result<LogVersion> {
        self.conn()
            .query_row(
                "SELECT (SELECT coalesce(max(run_id), 0) FROM runs),
                        (SELECT count(*) FROM runs WHERE status = 'running')",
                [],
                |r| {
                    let numbers: [i64; 2] = [r.get(0)?, r.get(1)?];
                    Ok(LogVersion(format!("{numbers:?}")))
                },
            )
            .map_err(backend)
    }

    fn snapshot(&self, env: &str, slack: crate::time::Duration) -> Result<LogSnapshot> {
        let conn = self.conn();
        let mut snapshot = LogSnapshot::default();
        // Successful intervals since each table's last rebuild, merged into islands per
        // table and fingerprint in SQL so that a long log reaches the planner as a few ranges.
        let mut islands = conn.prepare(ISLANDS_SQL).map_err(backend)?;
        let rows = islands
            .query_map([env], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(backend)?;
        for row in rows {
            let (table, fingerprint, s, e) = row.map_err(backend)?;
            if let Some(interval) = Interval::new(from_micros(s), from_micros(e)) {
                let log = snapshot
                    .tables
                    .entry(TableName::from_reference(&table))
                    .or_default();
                log.coverage
                    .entry(fingerprint)
                    .or_default()
                    .insert(interval);
            }
        }
        // Each table's latest attempt, success and export are found by one grouped
        // pass over the log and read by run id, which is cheaper than ranking it.
        let mut latest = conn
            .prepare(
                "WITH latest AS (
                    SELECT max(run_id) FILTER (WHERE action NOT IN ('export', 'pause', 'resume')) AS attempt,
                           max(run_id) FILTER (WHERE status = 'success' AND action NOT IN ('export', 'pause', 'resume')) AS success,
                           max(run_id) FILTER (WHERE action = 'export') AS export
                    FROM runs WHERE env = ? GROUP BY table_name)
                 SELECT r.table_name, r.run_id, r.action, r.status, epoch_us(r.interval_start), epoch_us(r.interval_end),
                        r.fingerprint, r.error, epoch_us(r.finished_at), epoch_us(r.read_watermark), w.kind, r.column_fingerprints
                 FROM runs AS r JOIN (
                    SELECT attempt AS run_id, 0 AS kind FROM latest WHERE attempt IS NOT NULL
                    UNION ALL SELECT success, 1 FROM latest WHERE success IS NOT NULL
                    UNION ALL SELECT export, 2 FROM latest WHERE export IS NOT NULL
                 ) AS w ON r.run_id = w.run_id
                 WHERE r.env = ?",
            )
            .map_err(backend)?;
        let rows = latest
            .query_map([env, env], |r| {
                let attempt = Attempt {
                    run_id: r.get(1)?,
                    action: r.get(2)?,
                    status: RunStatus::parse(&r.get::<_, String>(3)?),
                    interval: interval_of(r.get(4)?, r.get(5)?),
                    fingerprint: r.get(6)?,
                    error: r.get(7)?,
                    finished_at: r.get::<_, Option<i64>>(8)?.map(from_micros),
                    read_watermark: r.get::<_, Option<i64>>(9)?.map(from_micros),
                };
                Ok((
                    r.get::<_, String>(0)?,
                    attempt,
                    r.get::<_, i32>(10)?,
                    r.get::<_, Option<String>>(11)?,
                ))
            })
            .map_err(backend)?;
        for row in rows {
            let (table, attempt, kind, columns) = row.map_err(backend)?;
            let log = snapshot
                .tables
                .entry(TableName::from_reference(&table))
                .or_default();
            match kind {
                0 => log.last_attempt = Some(attempt),
                1 => {
                    log.column_fingerprints = from_json(columns);
                    log.last_success = Some(attempt);
                }
                _ => log.last_export = Some(attempt),
            }
        }
        drop(latest);
        load_rewrites(&conn, env, slack, &mut snapshot)?;
        load_failures(&conn, env, &mut snapshot)?;
        load_pauses(&conn, env, &mut snapshot)?;
        Ok(snapshot)
    }

    fn running(&self, env: &str) -> Result<Vec<RunRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT {RECORD_COLUMNS} FROM runs WHERE env = ? AND status = 'running' ORDER BY run_id"))
            .map_err(backend)?;
        let rows = stmt.query_map([env], record).map_err(backend)?;
        rows.collect::<::duckdb::Result<Vec<_>>>().map_err(backend)
    }

    fn log(
        &self,
        env: &str,
        table: Option<&str>,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RECORD_COLUMNS} FROM runs WHERE env = ? AND (? IS NULL OR table_name = ?) \
                 AND (? IS NULL OR started_at >= make_timestamp(?)) ORDER BY run_id DESC LIMIT ?"
            ))
            .map_err(backend)?;
        let since = since.map(to_micros);
        let rows = stmt
            .query_map(
                params![env, table, table, since, since, limit as i64],
                record,
            )
            .map_err(backend)?;
        let mut records = rows
            .collect::<::duckdb::Result<Vec<_>>>()
            .map_err(backend)?;
        drop(stmt);
        drop(conn);
        let ids: Vec<RunId> = records.iter().map(|r| r.run_id).collect();
        let mut checks = self.check_results(&ids)?;
        for r in &mut records {
            r.checks = checks.remove(&r.run_id).unwrap_or_default();
        }
        Ok(records)
    }

    fn run(&self, run_id: RunId) -> Result<Option<RunRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RECORD_COLUMNS} FROM runs WHERE run_id = ?"
            ))
            .map_err(backend)?;
        let mut rows = stmt.query_map([run_id], record).map_err(backend)?;
        rows.next().transpose().map_err(backend)
    }

    fn record_checks(
        &self,
        run_id: RunId,
        table: &TableName,
        env: &str,
        outcomes: &[CheckOutcome],
    ) -> Result<()> {
        let conn = self.conn();
        for o in outcomes {
            let sample = serde_json::to_string(&o.sample).unwrap_or_else(|_| "[]".into());
            conn.execute(
                "INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?, make_timestamp(?))",
                params![
                    run_id,
                    table.as_str(),
                    env,
                    o.name,
                    o.severity.name(),
                    o.failing_rows as i64,
                    sample,
                    now_micros()
                ],
            )
            .map_err(backend)?;
        }
        Ok(())
    }

    fn check_results(&self, run_ids: &[RunId]) -> Result<HashMap<RunId, Vec<CheckOutcome>>> {
        let mut out: HashMap<RunId, Vec<CheckOutcome>> = HashMap::new();
        if run_ids.is_empty() {
            return Ok(out);
        }
        let list: Vec<String> = run_ids.iter().map(i64::to_string).collect();
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT run_id, check_name, severity, failing_rows, sample FROM check_results WHERE run_id IN ({}) ORDER BY run_id, rowid",
                list.join(",")
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                let severity = if r.get::<_, String>(2)? == "warn" {
                    CheckSeverity::Warn
                } else {
                    CheckSeverity::Error
                };
                let sample: String = r.get(4)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    CheckOutcome {
                        name: r.get(1)?,
                        severity,
                        failing_rows: r.get::<_, i64>(3)? as u64,
                        sample: serde_json::from_str(&sample).unwrap_or_default(),
                    },
                ))
            })
            .map_err(backend)?;
        for row in rows {
            let (run_id, outcome) = row.map_err(backend)?;
            out.entry(run_id).or_default().push(outcome);
        }
        Ok(out)
    }

    fn environments(&self) -> Result<Vec<(String, Timestamp)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT env, epoch_us(max(started_at)) FROM runs GROUP BY env ORDER BY env")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, from_micros(r.get(1)?))))
            .map_err(backend)?;
        rows.collect::<::duckdb::Result<Vec<_>>>().map_err(backend)
    }

    fn mark_source(
        &self,
        env: &str,
        source: &TableName,
        through: Timestamp,
        marked_at: Timestamp,
        by: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO source_marks VALUES (?, ?, make_timestamp(?), make_timestamp(?), ?)",
                params![
                    source.as_str(),
                    env,
                    to_micros(through),
                    to_micros(marked_at),
                    by
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn source_marks(&self) -> Result<HashMap<TableName, Timestamp>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT source, epoch_us(max(through)) FROM source_marks GROUP BY source")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(backend)?;
        let mut marks = HashMap::new();
        for row in rows {
            let (source, through) = row.map_err(backend)?;
            marks.insert(TableName::from_reference(&source), from_micros(through));
        }
        Ok(marks)
    }
}

/// Actions are stored as their names.
impl ::duckdb::types::FromSql for RunAction {
    fn column_result(value: ::duckdb::types::ValueRef<'_>) -> ::duckdb::types::FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: String| ::duckdb::types::FromSqlError::Other(e.into()))
    }
}

/// Why a DuckDB file could not be opened; another process holding it gets a
/// message that says what to do.
/// Opens (or creates) a DuckDB file, its folder first. A file shorter than
/// DuckDB's three header blocks is one whose creation a killed process cut
/// short: it never held data, so it is created again.
pub(crate) fn open_file(path: &Path) -> std::result::Result<Connection, String> {
    const HEADERS: u64 = 3 * 4096;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() < HEADERS) {
        let wal = format!("{}.wal", path.display());
        for unfinished in [path, Path::new(&wal)] {
            if unfinished.exists() {
                std::fs::remove_file(unfinished).map_err(|e| {
                    format!("cannot remove the unfinished {}: {e}", unfinished.display())
                })?;
            }
        }
    }
    Connection::open(path).map_err(|e| open_error(path, &e))
}

pub(crate) fn open_error(path: &Path, e: &::duckdb::Error) -> String {
    let text = e.to_string();
    if text.contains("Could not set lock") {
        let holder = text
            .split("Conflicting lock is held in ")
            .nth(1)
            .map(|s| format!(" ({})", s.trim()))
            .unwrap_or_default();
        format!(
            "another derived process is using {}{holder}; wait for it to finish and run again. \
             A DuckDB project admits one writing process at a time",
            path.display()
        )
    } else {
        format!("cannot open {}: {text}", path.display())
    }
}

/// Each table's successful intervals since its last rebuild, merged into
/// islands per fingerprint; `$1` is the environment. A log is mostly
/// chains: every interval but the first starts where another ends, and then
/// the union is one island from the first start to the last end, found by
/// hashing. Only the other tables' intervals are sorted: on a log of a million
/// runs, sorting them all took 2.4 times as long.
const ISLANDS_SQL: &str = "WITH generation AS (
        SELECT table_name, max(run_id) AS first_run FROM runs
        WHERE env = $1 AND status = 'success' AND action = 'rebuild' GROUP BY table_name),
     s AS (
        SELECT r.table_name, fingerprint, interval_start AS s, interval_end AS e FROM runs r
        LEFT JOIN generation g ON g.table_name = r.table_name
        WHERE env = $1 AND status = 'success' AND interval_start < interval_end AND action <> 'export'
          AND r.run_id >= coalesce(g.first_run, 0)),
     loose AS (
        SELECT table_name, fingerprint, count(*) AS starts FROM s a
        WHERE NOT EXISTS (SELECT 1 FROM s b WHERE b.table_name = a.table_name
            AND b.fingerprint = a.fingerprint AND b.e = a.s)
        GROUP BY table_name, fingerprint),
     chained AS (
        SELECT s.table_name, s.fingerprint, min(s) AS s, max(e) AS e FROM s
        JOIN loose USING (table_name, fingerprint) WHERE loose.starts = 1
        GROUP BY s.table_name, s.fingerprint),
     o AS (
        SELECT s.*, max(e) OVER (PARTITION BY table_name, fingerprint ORDER BY s, e
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
        FROM s JOIN loose USING (table_name, fingerprint) WHERE loose.starts > 1),
     g AS (
        SELECT *, sum(CASE WHEN prev_end >= s THEN 0 ELSE 1 END) OVER (PARTITION BY table_name, fingerprint
            ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS island FROM o)
     SELECT table_name, fingerprint, epoch_us(s), epoch_us(e) FROM chained
     UNION ALL
     SELECT table_name, fingerprint, epoch_us(min(s)), epoch_us(max(e)) FROM g GROUP BY table_name, fingerprint, island";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_whose_creation_was_cut_short_is_created_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.duckdb");
        std::fs::write(&path, b"").unwrap();
        let store = DuckDbMetadata::open(&path).unwrap();
        assert!(store.log("prod", None, None, 10).unwrap().is_empty());
        drop(store);
        assert!(std::fs::metadata(&path).unwrap().len() >= 3 * 4096);
        std::fs::write(dir.path().join("other.duckdb"), vec![7u8; 20_000]).unwrap();
        assert!(
            DuckDbMetadata::open(&dir.path().join("other.duckdb")).is_err(),
            "a file that is not DuckDB's is never removed"
        );
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.duckdb");
        drop(DuckDbMetadata::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("INSERT INTO schema_version VALUES (99)")
            .unwrap();
        drop(conn);
        let message = DuckDbMetadata::open(&path)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            message.contains("schema version 99") && message.contains("upgrade derived"),
            "{message}"
        );
    }

    #[test]
    fn an_older_store_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.duckdb");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            .unwrap();
        drop(conn);
        let store = DuckDbMetadata::open(&path).unwrap();
        assert!(store.log("prod", None, None, 10).unwrap().is_empty());
        let version: i64 = store
            .conn()
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.last().unwrap().0);
    }

    /// A run of the random logs below, as generated: table, env, action,
    /// status, fingerprint, and its interval in hours (start, length).
    type LoggedRun = (u8, bool, u8, bool, bool, u8, u8);

    /// A generated run, read once for both the store and the expectation.
    struct Run {
        table: String,
        env: &'static str,
        action: &'static str,
        status: &'static str,
        fingerprint: &'static str,
        start: i64,
        hours: i64,
    }

    impl Run {
        fn of(&(table, prod, action, success, second, start, hours): &LoggedRun) -> Run {
            Run {
                table: format!("d.t{}", table % 3),
                env: if prod { "prod" } else { "dev" },
                action: ["increment", "increment", "rebuild", "repair", "export"]
                    [action as usize % 5],
                status: if success { "success" } else { "failed" },
                fingerprint: if second { "f2" } else { "f1" },
                start: i64::from(start % 40),
                hours: i64::from(hours % 4),
            }
        }

        fn counted(&self) -> bool {
            self.env == "prod" && self.status == "success"
        }
    }

    fn log_of(runs: &[Run]) -> (tempfile::TempDir, DuckDbMetadata) {
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbMetadata::open(&dir.path().join("m.duckdb")).unwrap();
        let conn = store.conn();
        for run in runs {
            conn.execute(
                "INSERT INTO runs (table_name, env, action, interval_start, interval_end, status,
                    started_at, finished_at, fingerprint, triggered_by, as_of, rows_written, upstream_runs)
                 VALUES (?, ?, ?, TIMESTAMP '2024-01-01' + to_hours(?), TIMESTAMP '2024-01-01' + to_hours(? + ?),
                    ?, now(), now(), ?, 'test', now(), 1, '[]')",
                params![
                    run.table,
                    run.env,
                    run.action,
                    run.start,
                    run.start,
                    run.hours,
                    run.status,
                    run.fingerprint,
                ],
            )
            .unwrap();
        }
        drop(conn);
        (dir, store)
    }

    /// What the snapshot's coverage must be: per table and fingerprint, the
    /// union of the successful intervals since the table's last rebuild.
    fn union_of(runs: &[Run]) -> BTreeMap<(String, String), IntervalSet> {
        let hour = |h: i64| {
            crate::time::parse_timestamp("2024-01-01").unwrap() + chrono::Duration::hours(h)
        };
        let mut out: BTreeMap<(String, String), IntervalSet> = BTreeMap::new();
        for (i, run) in runs.iter().enumerate() {
            let rebuilt_later = runs[i + 1..]
                .iter()
                .any(|r| r.table == run.table && r.counted() && r.action == "rebuild");
            if !run.counted() || run.action == "export" || rebuilt_later {
                continue;
            }
            if let Some(interval) = Interval::new(hour(run.start), hour(run.start + run.hours)) {
                out.entry((run.table.clone(), run.fingerprint.to_string()))
                    .or_default()
                    .insert(interval);
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(48))]
        /// Chained logs take a shortcut to their islands; gaps, overlaps,
        /// empty intervals, rebuilds and other fingerprints must not fool it.
        #[test]
        fn coverage_is_the_union_of_the_successful_intervals_since_the_last_rebuild(
            runs in proptest::collection::vec(proptest::prelude::any::<LoggedRun>(), 0..40)
        ) {
            let runs: Vec<Run> = runs.iter().map(Run::of).collect();
            let (_dir, store) = log_of(&runs);
            let snapshot = store.snapshot("prod", crate::time::Duration::from_seconds(0)).unwrap();
            let found: BTreeMap<(String, String), IntervalSet> = snapshot
                .tables
                .iter()
                .flat_map(|(table, log)| {
                    log.coverage.iter().filter(|(_, set)| !set.is_empty()).map(move |(fingerprint, set)| {
                        ((table.to_string(), fingerprint.clone()), set.clone())
                    })
                })
                .collect();
            proptest::prop_assert_eq!(found, union_of(&runs));
        }
    }
}
