//! The metadata log in PostgreSQL: the store that several processes on several
//! machines share. Same log, same queries as the embedded store; each store
//! lives in a schema of its own (`metadata: {type: postgres, url, schema}`).

use super::*;
use crate::project::checks::CheckSeverity;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, IsolationLevel, NoTls, Row, Transaction};

/// Schema migrations, applied in order under an advisory lock; the store
/// records the highest applied.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_runs.sql")),
    (2, include_str!("../../migrations/postgres/0002_checks.sql")),
    (
        3,
        include_str!("../../migrations/postgres/0003_job_usage.sql"),
    ),
    (4, include_str!("../../migrations/postgres/0004_leases.sql")),
    (5, include_str!("../../migrations/postgres/0005_notes.sql")),
    (
        6,
        include_str!("../../migrations/postgres/0006_column_impact.sql"),
    ),
];

/// How long a lease lives without a heartbeat, unless the worker says otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

pub struct PostgresMetadata {
    client: Client,
    /// Snapshots are read in one repeatable-read transaction, on a connection of
    /// their own so that other threads' statements never land inside it.
    snapshot_client: tokio::sync::Mutex<Client>,
    runtime: tokio::runtime::Runtime,
    url: String,
    schema: String,
    /// This process's name on its leases.
    holder: String,
    lease_ttl_ms: AtomicU64,
}

fn backend(e: tokio_postgres::Error) -> MetadataError {
    MetadataError::Backend(match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    })
}

/// Identifiers from `derived.yml` are quoted, never trusted.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

const RECORD_COLUMNS: &str = "run_id, table_name, env, action, interval_start, interval_end, status, \
     started_at, finished_at, fingerprint, git_commit, triggered_by, as_of, rows_written, error, sql, upstream_runs, \
     bytes_processed, slot_ms, note";

fn record(row: &Row) -> RunRecord {
    let upstream: String = row.get(16);
    RunRecord {
        run_id: row.get(0),
        table_name: row.get(1),
        env: row.get(2),
        action: row.get(3),
        interval_start: row.get(4),
        interval_end: row.get(5),
        status: RunStatus::parse(row.get(6)),
        started_at: row.get(7),
        finished_at: row.get(8),
        fingerprint: row.get(9),
        git_commit: row.get(10),
        triggered_by: row.get(11),
        as_of: row.get(12),
        rows_written: row.get(13),
        error: row.get(14),
        sql: row.get(15),
        upstream_runs: serde_json::from_str(&upstream).unwrap_or_default(),
        bytes_processed: row.get(17),
        slot_ms: row.get(18),
        note: row.get(19),
        checks: Vec::new(),
    }
}

async fn open_client(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(|e| {
        MetadataError::Backend(format!(
            "cannot connect to the metadata store at {url}: {e}"
        ))
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("metadata store connection closed: {e}");
        }
    });
    Ok(client)
}

/// Host, process and a random suffix: unique among live processes, readable in `leases`.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}:{}:{nanos:x}", std::process::id())
}

fn interval_of(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<Interval> {
    Interval::new(start?, end?)
}

impl PostgresMetadata {
    /// Connects, creates the schema when missing and migrates it to this version.
    pub fn connect(url: &str, schema: &str) -> Result<PostgresMetadata> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| MetadataError::Backend(e.to_string()))?;
        let client = runtime.block_on(open_client(url))?;
        let snapshot_client = runtime.block_on(open_client(url))?;
        let store = PostgresMetadata {
            client,
            snapshot_client: tokio::sync::Mutex::new(snapshot_client),
            runtime,
            url: url.to_string(),
            schema: schema.to_string(),
            holder: holder_name(),
            lease_ttl_ms: AtomicU64::new(DEFAULT_LEASE_TTL.as_millis() as u64),
        };
        store.migrate(schema, url)?;
        store.runtime.block_on(async {
            let path = format!("SET search_path TO {}", quote(schema));
            store
                .snapshot_client
                .lock()
                .await
                .batch_execute(&path)
                .await
                .map_err(backend)
        })?;
        Ok(store)
    }

    /// The notification channel of this store's schema.
    fn channel(&self) -> String {
        format!("derived_{}", self.schema)
    }

    fn notify(&self, payload: &str) -> Result<()> {
        self.execute("SELECT pg_notify($1, $2)", &[&self.channel(), &payload])?;
        Ok(())
    }

    fn migrate(&self, schema: &str, url: &str) -> Result<()> {
        self.runtime.block_on(async {
            let c = &self.client;
            // Several workers may start at once: one creates and migrates, the others wait.
            c.batch_execute("BEGIN").await.map_err(backend)?;
            let migrated = async {
                c.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('derived.migrate.' || $1))",
                    &[&schema],
                )
                .await?;
                c.batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {s}; SET search_path TO {s}",
                    s = quote(schema)
                ))
                .await?;
                c.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
                )
                .await?;
                let current: i64 = c
                    .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
                    .await?
                    .get(0);
                Ok::<i64, tokio_postgres::Error>(current)
            }
            .await;
            let current = match migrated {
                Ok(v) => v,
                Err(e) => {
                    let _ = c.batch_execute("ROLLBACK").await;
                    return Err(backend(e));
                }
            };
            let known = MIGRATIONS.last().map_or(0, |m| m.0);
            if current > known {
                let _ = c.batch_execute("ROLLBACK").await;
                return Err(MetadataError::TooNew {
                    location: format!("{url} (schema {schema})"),
                    found: current,
                    known,
                });
            }
            for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
                let applied = c
                    .batch_execute(&format!(
                        "{sql};\nINSERT INTO schema_version VALUES ({version})"
                    ))
                    .await;
                if let Err(e) = applied {
                    let _ = c.batch_execute("ROLLBACK").await;
                    return Err(backend(e));
                }
            }
            c.batch_execute("COMMIT").await.map_err(backend)
        })
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.runtime
            .block_on(self.client.query(sql, params))
            .map_err(backend)
    }

    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.runtime
            .block_on(self.client.execute(sql, params))
            .map_err(backend)
    }

    /// The schema version the store is at.
    pub fn version(&self) -> Result<i64> {
        Ok(self
            .query("SELECT max(version) FROM schema_version", &[])?
            .first()
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .unwrap_or(0))
    }
}

async fn load_rewrites(
    tx: &Transaction<'_>,
    env: &str,
    slack: crate::time::Duration,
    snapshot: &mut LogSnapshot,
) -> std::result::Result<(), tokio_postgres::Error> {
    let actions: Vec<&str> = REWRITE_ACTIONS.map(RunAction::name).to_vec();
    for row in tx.query(
        "SELECT table_name, run_id, interval_start, interval_end, changed_columns FROM runs
         WHERE env = $1 AND status = 'success' AND action = ANY($2) AND interval_start IS NOT NULL ORDER BY run_id",
        &[&env, &actions],
    ).await? {
        if let Some(interval) = interval_of(row.get(2), row.get(3)) {
            snapshot.rewrites.push(Rewrite {
                table: TableName::from_reference(row.get(0)),
                run_id: row.get(1),
                interval,
                columns: from_json(row.get(4)),
            });
        }
    }
    if snapshot.rewrites.is_empty() {
        return Ok(());
    }
    let slack = slack.seconds() as f64;
    for row in tx.query(
        "WITH w AS (SELECT DISTINCT interval_start AS s, interval_end AS e FROM runs
                    WHERE env = $1 AND status = 'success' AND action = ANY($2) AND interval_start IS NOT NULL)
         SELECT table_name, run_id, interval_start, interval_end FROM runs t
         WHERE env = $1 AND status = 'success' AND interval_start IS NOT NULL AND action <> 'export'
           AND EXISTS (SELECT 1 FROM w WHERE w.s < t.interval_end
                                         AND w.e > t.interval_start - make_interval(secs => $3))",
        &[&env, &actions, &slack],
    ).await? {
        if let Some(interval) = interval_of(row.get(2), row.get(3)) {
            snapshot
                .tables
                .entry(TableName::from_reference(row.get(0)))
                .or_default()
                .nearby_runs
                .push((row.get(1), interval));
        }
    }
    Ok(())
}

/// The log summarized for planning, read inside one consistent transaction.
async fn read_snapshot(
    tx: &Transaction<'_>,
    env: &str,
    slack: crate::time::Duration,
) -> std::result::Result<LogSnapshot, tokio_postgres::Error> {
    let mut snapshot = LogSnapshot::default();
    // Successful intervals since each table's last rebuild, merged into islands
    // per table and fingerprint, as in the embedded store.
    for row in tx.query(
            "WITH generation AS (
                SELECT table_name, max(run_id) AS first_run FROM runs
                WHERE env = $1 AND status = 'success' AND action = 'rebuild' GROUP BY table_name),
             s AS (
                SELECT r.table_name, fingerprint, interval_start AS s, interval_end AS e FROM runs r
                LEFT JOIN generation g ON g.table_name = r.table_name
                WHERE env = $1 AND status = 'success' AND interval_start IS NOT NULL AND action <> 'export'
                  AND r.run_id >= coalesce(g.first_run, 0)),
             o AS (SELECT *, max(e) OVER (PARTITION BY table_name, fingerprint ORDER BY s, e
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM s),
             g AS (SELECT *, sum(CASE WHEN prev_end >= s THEN 0 ELSE 1 END)
                    OVER (PARTITION BY table_name, fingerprint ORDER BY s, e) AS island FROM o)
             SELECT table_name, fingerprint, min(s), max(e) FROM g GROUP BY table_name, fingerprint, island",
            &[&env],
        ).await? {
            if let Some(interval) = interval_of(row.get(2), row.get(3)) {
                snapshot
                    .tables
                    .entry(TableName::from_reference(row.get(0)))
                    .or_default()
                    .coverage
                    .entry(row.get(1))
                    .or_default()
                    .insert(interval);
            }
        }
    for row in tx.query(
            "SELECT * FROM (
                SELECT DISTINCT ON (table_name) table_name, run_id, action, status, interval_start, interval_end,
                       fingerprint, error, finished_at, read_watermark, 0 AS kind, column_fingerprints
                FROM runs WHERE env = $1 AND action NOT IN ('export', 'pause', 'resume') ORDER BY table_name, run_id DESC) a
             UNION ALL
             SELECT * FROM (
                SELECT DISTINCT ON (table_name) table_name, run_id, action, status, interval_start, interval_end,
                       fingerprint, error, finished_at, read_watermark, 1 AS kind, column_fingerprints
                FROM runs WHERE env = $1 AND status = 'success' AND action NOT IN ('export', 'pause', 'resume') ORDER BY table_name, run_id DESC) b
             UNION ALL
             SELECT * FROM (
                SELECT DISTINCT ON (table_name) table_name, run_id, action, status, interval_start, interval_end,
                       fingerprint, error, finished_at, read_watermark, 2 AS kind, column_fingerprints
                FROM runs WHERE env = $1 AND action = 'export' ORDER BY table_name, run_id DESC) c",
            &[&env],
        ).await? {
            let attempt = Attempt {
                run_id: row.get(1),
                action: row.get(2),
                status: RunStatus::parse(row.get(3)),
                interval: interval_of(row.get(4), row.get(5)),
                fingerprint: row.get(6),
                error: row.get(7),
                finished_at: row.get(8),
                read_watermark: row.get(9),
            };
            let log = snapshot
                .tables
                .entry(TableName::from_reference(row.get(0)))
                .or_default();
            match row.get::<_, i32>(10) {
                0 => log.last_attempt = Some(attempt),
                1 => {
                    log.column_fingerprints = from_json(row.get(11));
                    log.last_success = Some(attempt);
                }
                _ => log.last_export = Some(attempt),
            }
        }
    load_rewrites(tx, env, slack, &mut snapshot).await?;
    let mut found = Vec::new();
    for row in tx.query(FAILURES_SQL, &[&env]).await? {
        let Some(interval) = interval_of(row.get(5), row.get(6)) else {
            continue;
        };
        found.push(FailureRow {
            table: row.get(0),
            failure: Failure {
                run_id: row.get(1),
                action: row.get(2),
                fingerprint: row.get(3),
                error: row.get(4),
                interval,
            },
            later_success: interval_of(row.get(7), row.get(8)),
        });
    }
    settle_failures(&mut snapshot, found);
    for row in tx
        .query(
            "SELECT DISTINCT ON (table_name) table_name, action, triggered_by, started_at, note, run_id
             FROM runs WHERE env = $1 AND action IN ('pause', 'resume') ORDER BY table_name, run_id DESC",
            &[&env],
        )
        .await?
    {
        let log = snapshot
            .tables
            .entry(TableName::from_reference(row.get(0)))
            .or_default();
        log.last_pause_change = Some(row.get(5));
        log.paused = (row.get::<_, RunAction>(1) == RunAction::Pause).then(|| Pause {
            by: row.get(2),
            at: row.get(3),
            reason: row.get(4),
        });
    }
    Ok(snapshot)
}

impl MetadataStore for PostgresMetadata {
    fn begin_run(&self, run: &NewRun) -> Result<RunId> {
        let upstream = serde_json::to_string(&run.upstream_runs).unwrap_or_else(|_| "[]".into());
        let rows = self.query(
            "INSERT INTO runs (table_name, env, action, interval_start, interval_end, status, started_at, fingerprint, \
             git_commit, triggered_by, as_of, sql, upstream_runs, read_watermark, note, column_fingerprints, changed_columns) \
             VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING run_id",
            &[
                &run.table.as_str(),
                &run.env,
                &run.action.name(),
                &run.interval.map(|i| i.start()),
                &run.interval.map(|i| i.end()),
                &Utc::now(),
                &run.fingerprint,
                &run.git_commit,
                &run.triggered_by,
                &run.as_of,
                &run.sql,
                &upstream,
                &run.read_watermark,
                &run.note,
                &to_json(&run.column_fingerprints),
                &to_json(&run.changed_columns),
            ],
        )?;
        Ok(rows[0].get(0))
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
        self.execute(
            "UPDATE runs SET status = $1, finished_at = $2, rows_written = $3, error = $4, \
             bytes_processed = $5, slot_ms = $6 WHERE run_id = $7 AND status = 'running'",
            &[
                &status.name(),
                &Utc::now(),
                &rows_written,
                &error,
                &number(usage.bytes_processed),
                &number(usage.slot_ms),
                &run_id,
            ],
        )?;
        Ok(())
    }

    fn snapshot(&self, env: &str, slack: crate::time::Duration) -> Result<LogSnapshot> {
        self.runtime.block_on(async {
            let mut client = self.snapshot_client.lock().await;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(backend)?;
            let snapshot = read_snapshot(&tx, env, slack).await.map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(snapshot)
        })
    }

    /// The server's transaction snapshot: any transaction that commits
    /// between two readings was in progress at the first or started after it,
    /// so the text differs. Readers take no transaction id and leave it alone.
    fn version(&self) -> Result<LogVersion> {
        let rows = self.query("SELECT pg_current_snapshot()::text", &[])?;
        Ok(LogVersion(rows[0].get(0)))
    }

    fn running(&self, env: &str) -> Result<Vec<RunRecord>> {
        Ok(self
            .query(
                &format!("SELECT {RECORD_COLUMNS} FROM runs WHERE env = $1 AND status = 'running' ORDER BY run_id"),
                &[&env],
            )?
            .iter()
            .map(record)
            .collect())
    }

    fn run(&self, run_id: RunId) -> Result<Option<RunRecord>> {
        Ok(self
            .query(
                &format!("SELECT {RECORD_COLUMNS} FROM runs WHERE run_id = $1"),
                &[&run_id],
            )?
            .first()
            .map(record))
    }

    fn log(
        &self,
        env: &str,
        table: Option<&str>,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        let mut records: Vec<RunRecord> = self
            .query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM runs WHERE env = $1 AND ($2::text IS NULL OR table_name = $2) \
                     AND ($3::timestamptz IS NULL OR started_at >= $3) ORDER BY run_id DESC LIMIT $4"
                ),
                &[&env, &table, &since, &(limit as i64)],
            )?
            .iter()
            .map(record)
            .collect();
        let ids: Vec<RunId> = records.iter().map(|r| r.run_id).collect();
        let mut checks = self.check_results(&ids)?;
        for r in &mut records {
            r.checks = checks.remove(&r.run_id).unwrap_or_default();
        }
        Ok(records)
    }

    fn mark_source(
        &self,
        env: &str,
        source: &TableName,
        through: Timestamp,
        marked_at: Timestamp,
        by: &str,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO source_marks VALUES ($1, $2, $3, $4, $5)",
            &[&source.as_str(), &env, &through, &marked_at, &by],
        )?;
        self.notify(&format!("mark {source}"))
    }

    fn record_checks(
        &self,
        run_id: RunId,
        table: &TableName,
        env: &str,
        outcomes: &[CheckOutcome],
    ) -> Result<()> {
        for o in outcomes {
            let sample = serde_json::to_string(&o.sample).unwrap_or_else(|_| "[]".into());
            self.execute(
                "INSERT INTO check_results (run_id, table_name, env, check_name, severity, failing_rows, sample, checked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &run_id,
                    &table.as_str(),
                    &env,
                    &o.name,
                    &o.severity.name(),
                    &(o.failing_rows as i64),
                    &sample,
                    &Utc::now(),
                ],
            )?;
        }
        Ok(())
    }

    fn check_results(&self, run_ids: &[RunId]) -> Result<HashMap<RunId, Vec<CheckOutcome>>> {
        let mut out: HashMap<RunId, Vec<CheckOutcome>> = HashMap::new();
        if run_ids.is_empty() {
            return Ok(out);
        }
        for row in self.query(
            "SELECT run_id, check_name, severity, failing_rows, sample FROM check_results \
             WHERE run_id = ANY($1) ORDER BY run_id, id",
            &[&run_ids],
        )? {
            let severity = if row.get::<_, &str>(2) == "warn" {
                CheckSeverity::Warn
            } else {
                CheckSeverity::Error
            };
            out.entry(row.get(0)).or_default().push(CheckOutcome {
                name: row.get(1),
                severity,
                failing_rows: row.get::<_, i64>(3) as u64,
                sample: serde_json::from_str(row.get(4)).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    fn environments(&self) -> Result<Vec<(String, Timestamp)>> {
        Ok(self
            .query(
                "SELECT env, max(started_at) FROM runs GROUP BY env ORDER BY env",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn source_marks(&self) -> Result<HashMap<TableName, Timestamp>> {
        Ok(self
            .query(
                "SELECT source, max(through) FROM source_marks GROUP BY source",
                &[],
            )?
            .iter()
            .map(|r| (TableName::from_reference(r.get(0)), r.get(1)))
            .collect())
    }

    fn leases(&self) -> Option<&dyn Leases> {
        Some(self)
    }

    fn wakeups(&self) -> Result<Option<Wakeups>> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let listener = self.runtime.block_on(async {
            let (client, mut connection) = tokio_postgres::connect(&self.url, NoTls)
                .await
                .map_err(backend)?;
            tokio::spawn(async move {
                while let Some(message) =
                    std::future::poll_fn(|cx| connection.poll_message(cx)).await
                {
                    match message {
                        Ok(AsyncMessage::Notification(n)) => {
                            if sender.send(n.payload().to_string()).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!("metadata store notifications stopped: {e}");
                            return;
                        }
                    }
                }
            });
            client
                .batch_execute(&format!("LISTEN {}", quote(&self.channel())))
                .await
                .map_err(backend)?;
            Ok::<Client, MetadataError>(client)
        })?;
        Ok(Some(Wakeups {
            receiver,
            listener: Box::new(listener),
        }))
    }
}

impl Leases for PostgresMetadata {
    fn acquire(&self, env: &str, table: &TableName) -> Result<bool> {
        let ttl = self.lease_ttl_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let taken = self.execute(
            "INSERT INTO leases (env, table_name, holder, claimed_at, expires_at)
             VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4))
             ON CONFLICT (env, table_name) DO UPDATE
               SET holder = EXCLUDED.holder, claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
               WHERE leases.expires_at < now() OR leases.holder = EXCLUDED.holder",
            &[&env, &table.as_str(), &self.holder, &ttl],
        )?;
        Ok(taken == 1)
    }

    fn release(&self, env: &str, table: &TableName) -> Result<()> {
        self.execute(
            "WITH released AS (DELETE FROM leases WHERE env = $1 AND table_name = $2 AND holder = $3 RETURNING 1)
             SELECT pg_notify($4, $5) FROM released",
            &[
                &env,
                &table.as_str(),
                &self.holder,
                &self.channel(),
                &format!("release {table}"),
            ],
        )?;
        Ok(())
    }

    fn renew(&self) -> Result<u64> {
        let ttl = self.lease_ttl_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        self.execute(
            "UPDATE leases SET expires_at = now() + make_interval(secs => $2) WHERE holder = $1",
            &[&self.holder, &ttl],
        )
    }

    fn ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms.load(Ordering::Relaxed))
    }

    fn set_ttl(&self, ttl: Duration) {
        self.lease_ttl_ms
            .store(ttl.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    fn changed_since(
        &self,
        env: &str,
        table: &TableName,
        after: Option<RunId>,
    ) -> Result<Vec<RunRecord>> {
        Ok(self
            .query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM runs WHERE env = $1 AND table_name = $2 \
                     AND (run_id > $3 OR status = 'running') ORDER BY run_id"
                ),
                &[&env, &table.as_str(), &after.unwrap_or(0)],
            )?
            .iter()
            .map(record)
            .collect())
    }
}
/// Actions are stored as their names.
impl<'a> tokio_postgres::types::FromSql<'a> for RunAction {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<RunAction, Box<dyn std::error::Error + Sync + Send>> {
        Ok(<&str>::from_sql(ty, raw)?.parse()?)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::FromSql>::accepts(ty)
    }
}
