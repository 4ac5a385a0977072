//! BigQuery: the production warehouse. Sources are existing tables; every derived
//! table is built by query jobs labelled for cost attribution (`derived_table`,
//! `derived_run_id`, `derived_env`), and every write publishes atomically (see
//! [`sql`]). A shadow environment is a dataset prefix, as on every backend.

mod jobs;
pub mod sql;

pub use jobs::Credentials;

use super::*;
use crate::project::checks::{ROWS, SAMPLE_ROWS};
use crate::project::Strategy;
use jobs::{JobFor, Jobs};
use sql::{Layout, MergeSpec};
use std::time::Instant;

/// A rebuild's fresh table.
struct Fresh<'w> {
    warehouse: &'w BigQueryWarehouse,
    table: &'w PhysicalName,
    deadline: Option<Instant>,
}

impl FreshTable for Fresh<'_> {
    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome> {
        self.warehouse
            .write_into(request, self.table, false, self.deadline)
    }
}

/// How the table is partitioned and clustered.
fn layout<'a>(request: &WriteRequest<'a>) -> Layout<'a> {
    Layout {
        time_column: request.time_column,
        schedule: request.schedule,
        unique_key: request.unique_key,
    }
}

/// When a write's jobs must be done by (`timeout:`); a job still running then
/// is cancelled.
fn deadline(request: &WriteRequest) -> Option<Instant> {
    request.timeout.map(|t| Instant::now() + t)
}

pub struct BigQueryWarehouse {
    jobs: Jobs,
    location: String,
}

/// Where a BigQuery warehouse is and how to reach it.
pub struct Connection<'a> {
    pub project: &'a str,
    pub location: Option<&'a str>,
    /// The REST API's v2 base URL, for an emulator or a test server.
    pub endpoint: Option<&'a str>,
    pub credentials: Credentials,
}

impl BigQueryWarehouse {
    pub fn connect(connection: Connection) -> Result<BigQueryWarehouse> {
        Ok(BigQueryWarehouse {
            jobs: Jobs::connect(
                connection.project,
                connection.location,
                connection.endpoint,
                connection.credentials,
            )?,
            location: connection.location.unwrap_or("US").to_string(),
        })
    }

    fn info(&self, name: &PhysicalName) -> Result<jobs::TableInfo> {
        self.jobs.table(&name.schema, &name.table)?.ok_or_else(|| {
            WarehouseError::new(format!("table {name} vanished while it was being written"))
        })
    }

    /// Writes one request into `target` (the table itself, or a rebuild's fresh
    /// table); `commit` records the run in the same atomic step.
    fn write_into(
        &self,
        request: &WriteRequest,
        target: &PhysicalName,
        commit: bool,
        deadline: Option<Instant>,
    ) -> Result<WriteOutcome> {
        let table_name = request.table.to_string();
        let job = JobFor {
            table: Some(&table_name),
            run_id: Some(request.run_id),
            env: Some(request.env),
            user_sql: Some(request.sql),
            deadline,
        };
        let stage = sql::companion(target, &format!("stage_{}", request.run_id));
        let layout = layout(request);
        let select = sql::typed_select(request.sql, request.columns);
        let replace = request.strategy == Strategy::Replace;
        let mut usage = self
            .jobs
            .run(
                &sql::create_stage(&stage, &select, replace.then_some(layout)),
                job,
                false,
            )?
            .usage;
        let published = self.publish(request, target, &stage, commit, job, &mut usage);
        if published.is_err() {
            let _ = self.jobs.delete_table(&stage.schema, &stage.table);
        }
        let (rows, checks, added_columns) = published?;
        Ok(WriteOutcome {
            rows,
            checks,
            usage,
            added_columns,
        })
    }

    fn publish(
        &self,
        request: &WriteRequest,
        target: &PhysicalName,
        stage: &PhysicalName,
        commit: bool,
        job: JobFor,
        usage: &mut JobUsage,
    ) -> Result<(u64, Vec<CheckOutcome>, Vec<String>)> {
        let layout = layout(request);
        let job = JobFor {
            user_sql: None,
            ..job
        };
        let staged = self.info(stage)?;
        let columns: Vec<String> = staged.columns.iter().map(|(c, _)| c.clone()).collect();
        let needed: Vec<&str> = match request.strategy {
            Strategy::Append => request.time_column.into_iter().collect(),
            Strategy::Merge => request.unique_key.iter().map(String::as_str).collect(),
            Strategy::Replace => Vec::new(),
        };
        if let Some(missing) = needed.iter().find(|n| !columns.iter().any(|c| c == *n)) {
            return Err(WarehouseError::statement(format!(
                "`{missing}` is not among the query's output columns ({})",
                columns.join(", ")
            )));
        }
        if let (Strategy::Append, Some(time_column)) = (request.strategy, request.time_column) {
            let probe = sql::row_outside(stage, time_column, request.interval);
            let outside = self.jobs.run(&probe, job, true)?;
            usage.add(outside.usage);
            if let Some(value) = outside.result.rows.first().and_then(|r| r.first()) {
                return Err(WarehouseError::data(format!(
                    "a row has {time_column} = {value}, outside the interval [{}, {}) the run writes; \
                     filter the query with {{{{ start }}}} and {{{{ end }}}}",
                    crate::time::format_ts(request.interval.start()),
                    crate::time::format_ts(request.interval.end())
                )));
            }
        }
        let checks = self.run_checks(&sql::table(stage), request.checks, job, usage)?;
        let commit_as = commit.then_some((request.run_id, staged.rows));
        let mut added = Vec::new();
        let publish = match request.strategy {
            Strategy::Replace => sql::swap(target, stage, commit_as),
            strategy => {
                let created =
                    self.jobs
                        .run(&sql::create_target(target, stage, layout), job, false)?;
                usage.add(created.usage);
                // DDL cannot run inside BigQuery's transaction: new columns
                // are added (nullable) before it.
                let existing = self.info(target)?.columns;
                let missing = columns_to_add(&staged.columns, &existing);
                if !missing.is_empty() {
                    let alter = sql::add_columns(target, &missing);
                    usage.add(self.jobs.run(&alter, job, false)?.usage);
                    added = missing.iter().map(|(c, _)| c.clone()).collect();
                }
                let apply = match (strategy, request.time_column) {
                    (Strategy::Append, Some(time_column)) => sql::append(
                        target,
                        stage,
                        &columns,
                        time_column,
                        request.interval,
                        commit_as,
                    ),
                    _ => sql::merge(
                        target,
                        stage,
                        &MergeSpec {
                            columns: &columns,
                            unique_key: request.unique_key,
                            rules: request.merge,
                            time_column: request.time_column,
                        },
                        commit_as,
                    ),
                };
                format!("{apply};\nDROP TABLE {}", sql::table(stage))
            }
        };
        usage.add(self.jobs.run(&publish, job, false)?.usage);
        Ok((staged.rows, checks, added))
    }

    fn run_checks(
        &self,
        rows: &str,
        checks: &[PreparedCheck],
        job: JobFor,
        usage: &mut JobUsage,
    ) -> Result<Vec<CheckOutcome>> {
        let mut outcomes = Vec::with_capacity(checks.len());
        for check in checks {
            let query = Dialect::BigQuery.offending_rows(check).replace(ROWS, rows);
            let counted = self
                .jobs
                .run(&sql::count_rows(&query), job, true)
                .map_err(|e| {
                    WarehouseError::new(format!(
                        "check {} could not run: {}",
                        check.name, e.message
                    ))
                })?;
            usage.add(counted.usage);
            let failing = counted
                .result
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let sample = if failing > 0 {
                let sampled = self
                    .jobs
                    .run(&sql::sample_rows(&query, SAMPLE_ROWS), job, true)?;
                usage.add(sampled.usage);
                sampled.result.into_objects()
            } else {
                Vec::new()
            };
            outcomes.push(CheckOutcome {
                name: check.name.clone(),
                severity: check.severity,
                failing_rows: failing,
                sample,
            });
        }
        checks_passed(outcomes)
    }

    fn first_column(&self, sql: &str) -> Result<Vec<serde_json::Value>> {
        let result = self.jobs.run(sql, JobFor::default(), true)?.result;
        Ok(result
            .rows
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect())
    }
}

impl Warehouse for BigQueryWarehouse {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn dialect(&self) -> Dialect {
        Dialect::BigQuery
    }

    fn columns(&self, name: &PhysicalName) -> Result<Vec<(String, String)>> {
        let info = self.jobs.table(&name.schema, &name.table)?;
        info.map(|t| t.columns)
            .ok_or_else(|| WarehouseError::statement(format!("table {name} does not exist")))
    }

    fn prepare_sources(&self, sources: &[&Source], _root: &Path) -> Result<()> {
        match sources.iter().find(|s| s.location.is_some()) {
            Some(source) => Err(WarehouseError::new(format!(
                "source {} has `location:` files, which BigQuery cannot read from this machine; \
                 load them into the table {} (e.g. `bq load`) and remove `location:`",
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
        let values = self
            .first_column(&sql::max_time(&name, column))
            .map_err(|e| {
                WarehouseError::new(format!(
                    "cannot read max({column}) of source {}: {}",
                    source.name, e.message
                ))
            })?;
        Ok(values
            .first()
            .and_then(|v| v.as_i64())
            .map(crate::time::from_micros))
    }

    fn create_schemas(&self, schemas: &[String]) -> Result<()> {
        self.jobs
            .run(
                &sql::setup(schemas, &self.location),
                JobFor::default(),
                false,
            )
            .map(|_| ())
    }

    fn write(&self, request: &WriteRequest) -> Result<WriteOutcome> {
        self.write_into(request, request.target, true, deadline(request))
    }

    fn rebuild(
        &self,
        rebuild: &Rebuild,
        build: &mut dyn FnMut(&dyn FreshTable) -> Result<()>,
    ) -> Result<u64> {
        let target = rebuild.target;
        let fresh = sql::companion(target, "rebuild");
        let deadline = rebuild.timeout.map(|t| Instant::now() + t);
        self.jobs.delete_table(&fresh.schema, &fresh.table)?;
        let built = build(&Fresh {
            warehouse: self,
            table: &fresh,
            deadline,
        });
        let swapped = built.and_then(|()| {
            let rows = self.info(&fresh)?.rows;
            let table_name = rebuild.table.to_string();
            let job = JobFor {
                table: Some(&table_name),
                run_id: Some(rebuild.run_id),
                env: Some(rebuild.env),
                user_sql: None,
                deadline,
            };
            let swap = sql::swap(target, &fresh, Some((rebuild.run_id, rows)));
            self.jobs.run(&swap, job, false)?;
            Ok(rows)
        });
        if swapped.is_err() {
            let _ = self.jobs.delete_table(&fresh.schema, &fresh.table);
        }
        swapped
    }

    fn check(&self, rows: &PhysicalName, checks: &[PreparedCheck]) -> Result<Vec<CheckOutcome>> {
        let mut usage = JobUsage::default();
        match self.run_checks(&sql::table(rows), checks, JobFor::default(), &mut usage) {
            Ok(outcomes) => Ok(outcomes),
            Err(e) if !e.checks.is_empty() => Ok(e.checks),
            Err(e) => Err(e),
        }
    }

    fn committed(&self, run_ids: &[RunId]) -> Result<BTreeMap<RunId, u64>> {
        if run_ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let result = self
            .jobs
            .run(&sql::committed(run_ids), JobFor::default(), true)?
            .result;
        Ok(result
            .rows
            .iter()
            .filter_map(|r| Some((r.first()?.as_i64()?, r.get(1)?.as_u64()?)))
            .collect())
    }

    fn query(&self, sql: &str) -> Result<QueryResult> {
        Ok(self.jobs.run(sql, JobFor::default(), true)?.result)
    }

    fn drop_env(&self, env: &Env) -> Result<usize> {
        if env.is_prod() {
            return Err(WarehouseError::new(
                "refusing to drop the production environment",
            ));
        }
        let datasets: Vec<String> = self
            .first_column(&sql::environment_datasets(&self.location, env.name()))?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if !datasets.is_empty() {
            self.jobs
                .run(&sql::drop_datasets(&datasets), JobFor::default(), false)?;
        }
        Ok(datasets.len())
    }

    fn table_exists(&self, name: &PhysicalName) -> Result<bool> {
        Ok(self.jobs.table(&name.schema, &name.table)?.is_some())
    }

    fn dry_run(&self, sql: &str, table: &TableName) -> Result<Option<u64>> {
        let name = table.to_string();
        let job = JobFor {
            table: Some(&name),
            run_id: None,
            env: None,
            user_sql: Some(sql),
            deadline: None,
        };
        self.jobs.dry_run(sql, job).map(Some)
    }
}
