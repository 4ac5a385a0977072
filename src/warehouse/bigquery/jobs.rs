//! BigQuery jobs over the REST API: insert with a chosen id and cost labels, poll
//! with backoff until done, page through results, and turn BigQuery's errors into
//! messages that name the table and the position in its SQL.

use crate::metadata::JobUsage;
use crate::warehouse::{FailureKind, QueryResult, Result, WarehouseError};
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::client_builder::ClientBuilder;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::error_proto::ErrorProto;
use gcp_bigquery_client::model::field_type::FieldType;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::job::Job;
use gcp_bigquery_client::model::job_configuration::JobConfiguration;
use gcp_bigquery_client::model::job_configuration_query::JobConfigurationQuery;
use gcp_bigquery_client::model::job_reference::JobReference;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::Client;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the client proves who it is.
pub enum Credentials {
    /// A service-account key file.
    KeyFile(PathBuf),
    /// A ready access token (`gcloud auth print-access-token`, or a local test server).
    Token(String),
    /// Application default credentials (`gcloud auth application-default login`, metadata server).
    ApplicationDefault,
}

#[derive(Clone)]
struct StaticToken(String);

#[async_trait::async_trait]
impl Authenticator for StaticToken {
    async fn access_token(&self) -> std::result::Result<String, BQError> {
        Ok(self.0.clone())
    }
}

/// Who a job is for: its cost-attribution labels and the SQL errors point into.
#[derive(Clone, Copy, Default)]
pub struct JobFor<'a> {
    /// `dataset.table` of the derived table.
    pub table: Option<&'a str>,
    pub run_id: Option<i64>,
    pub env: Option<&'a str>,
    /// The user's rendered SQL inside the statement, for error positions.
    pub user_sql: Option<&'a str>,
    /// Cancel the job (`jobs.cancel`) if it is still running then.
    pub deadline: Option<std::time::Instant>,
}

/// A finished job: its rows (when asked for) and what it cost.
pub struct Finished {
    pub result: QueryResult,
    pub usage: JobUsage,
}

/// A table's column names and types, and its row count.
pub struct TableInfo {
    pub columns: Vec<(String, String)>,
    pub rows: u64,
}

pub struct Jobs {
    client: Client,
    runtime: tokio::runtime::Runtime,
    project: String,
    location: Option<String>,
    sequence: AtomicU64,
    page_size: Option<i32>,
}

fn backend(e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::new(format!("BigQuery: {e}"))
}

impl Jobs {
    pub fn connect(
        project: &str,
        location: Option<&str>,
        endpoint: Option<&str>,
        credentials: Credentials,
    ) -> Result<Jobs> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(backend)?;
        let client = runtime.block_on(async {
            let mut builder = ClientBuilder::new();
            if let Some(url) = endpoint {
                builder.with_v2_base_url(url.trim_end_matches('/').to_string());
            }
            match credentials {
                Credentials::Token(token) => {
                    builder
                        .build_from_authenticator(Arc::new(StaticToken(token)))
                        .await
                }
                Credentials::KeyFile(path) => {
                    builder
                        .build_from_service_account_key_file(&path.to_string_lossy())
                        .await
                }
                Credentials::ApplicationDefault => {
                    builder.build_from_application_default_credentials().await
                }
            }
        });
        let client = client.map_err(|e| {
            WarehouseError::new(format!(
                "cannot authenticate to BigQuery: {e}; set `credentials:` to a service-account key file in derived.yml, \
                 run `gcloud auth application-default login`, or set DERIVED_BQ_ACCESS_TOKEN"
            ))
        })?;
        Ok(Jobs {
            client,
            runtime,
            project: project.to_string(),
            location: location.map(str::to_string),
            sequence: AtomicU64::new(0),
            page_size: std::env::var("DERIVED_BQ_PAGE_SIZE")
                .ok()
                .and_then(|s| s.parse().ok()),
        })
    }

    fn labels(&self, job: JobFor) -> HashMap<String, String> {
        let mut labels = HashMap::new();
        if let Some(env) = job.env {
            labels.insert("derived_env".to_string(), label_value(env));
        }
        if let Some(table) = job.table {
            labels.insert("derived_table".into(), label_value(table));
        }
        if let Some(run_id) = job.run_id {
            labels.insert("derived_run_id".into(), run_id.to_string());
        }
        labels
    }

    /// A job id of our own, so a job whose insert response was lost can still be found.
    fn job_id(&self, job: JobFor) -> String {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        match job.run_id {
            Some(run_id) => format!("derived_{run_id}_{n}_{nanos:x}"),
            None => format!("derived_{n}_{nanos:x}"),
        }
    }

    fn job(&self, sql: &str, job: JobFor, dry_run: bool) -> Job {
        Job {
            job_reference: Some(JobReference {
                job_id: Some(self.job_id(job)),
                project_id: Some(self.project.clone()),
                location: self.location.clone(),
            }),
            configuration: Some(JobConfiguration {
                dry_run: dry_run.then_some(true),
                labels: Some(self.labels(job)),
                query: Some(JobConfigurationQuery {
                    query: sql.to_string(),
                    use_legacy_sql: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Runs one statement (or script) to completion; its rows are read when `rows`.
    pub fn run(&self, sql: &str, job: JobFor, rows: bool) -> Result<Finished> {
        self.runtime.block_on(self.run_async(sql, job, rows))
    }

    async fn run_async(&self, sql: &str, job: JobFor<'_>, rows: bool) -> Result<Finished> {
        let request = self.job(sql, job, false);
        let job_id = request
            .job_reference
            .as_ref()
            .and_then(|r| r.job_id.clone())
            .unwrap_or_default();
        let api = self.client.job();
        let mut current = match api.insert(&self.project, request).await {
            Ok(inserted) => inserted,
            // The job exists already: an earlier insert got through.
            Err(BQError::ResponseError { error }) if error.error.code == 409 => {
                self.get_job(&job_id).await?
            }
            Err(e) => return Err(request_error(e, sql, job)),
        };
        let mut wait = Duration::from_millis(50);
        while state(&current) != "DONE" {
            if let Some(deadline) = job.deadline {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return Err(self.cancel(&job_id, job).await);
                }
                wait = wait.min(deadline - now);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
            current = self.get_job(&job_id).await?;
        }
        if let Some(error) = current
            .status
            .as_ref()
            .and_then(|s| s.error_result.as_ref())
        {
            return Err(job_error(&job_id, error, sql, job));
        }
        let usage = usage(&current);
        let result = if rows {
            self.results(&job_id).await?
        } else {
            QueryResult::default()
        };
        Ok(Finished { result, usage })
    }

    /// Cancels a job that ran past its deadline; the error says so.
    async fn cancel(&self, job_id: &str, job: JobFor<'_>) -> WarehouseError {
        let cancelled = self
            .client
            .job()
            .cancel_job(&self.project, job_id, self.location.as_deref())
            .await;
        let note = match cancelled {
            Ok(_) => "cancelled".to_string(),
            Err(e) => format!("asked to cancel it failed: {}", describe(&e)),
        };
        WarehouseError {
            kind: FailureKind::Timeout,
            ..WarehouseError::new(format!(
                "timeout: BigQuery job {job_id}{} ran past the table's timeout and was {note}; the table keeps its previous data",
                job.table.map(|t| format!(" for {t}")).unwrap_or_default()
            ))
        }
    }

    async fn get_job(&self, job_id: &str) -> Result<Job> {
        self.client
            .job()
            .get_job(&self.project, job_id, self.location.as_deref())
            .await
            .map_err(|e| backend(format!("cannot read job {job_id}: {}", describe(&e))))
    }

    async fn results(&self, job_id: &str) -> Result<QueryResult> {
        let mut out = QueryResult::default();
        let mut page_token = None;
        let mut fields: Vec<TableFieldSchema> = Vec::new();
        loop {
            let page = self
                .client
                .job()
                .get_query_results(
                    &self.project,
                    job_id,
                    GetQueryResultsParameters {
                        location: self.location.clone(),
                        page_token: page_token.clone(),
                        max_results: self.page_size,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| {
                    backend(format!(
                        "cannot read the results of job {job_id}: {}",
                        describe(&e)
                    ))
                })?;
            if page.job_complete == Some(false) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if fields.is_empty() {
                fields = page.schema.and_then(|s| s.fields).unwrap_or_default();
                out.columns = fields.iter().map(|f| f.name.clone()).collect();
            }
            for row in page.rows.unwrap_or_default() {
                let cells = row.columns.unwrap_or_default();
                out.rows.push(
                    cells
                        .into_iter()
                        .zip(&fields)
                        .map(|(cell, field)| to_json(cell.value, &field.r#type))
                        .collect(),
                );
            }
            match page.page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => return Ok(out),
            }
        }
    }

    /// The bytes a statement would scan, or why BigQuery rejects it.
    pub fn dry_run(&self, sql: &str, job: JobFor) -> Result<u64> {
        self.runtime.block_on(async {
            let inserted = self
                .client
                .job()
                .insert(&self.project, self.job(sql, job, true))
                .await
                .map_err(|e| request_error(e, sql, job))?;
            if let Some(error) = inserted
                .status
                .as_ref()
                .and_then(|s| s.error_result.as_ref())
            {
                return Err(job_error("dry run", error, sql, job));
            }
            Ok(usage(&inserted).bytes_processed.unwrap_or(0))
        })
    }

    /// A table's columns and rows, or None when it does not exist.
    pub fn table(&self, dataset: &str, table: &str) -> Result<Option<TableInfo>> {
        self.runtime.block_on(async {
            match self
                .client
                .table()
                .get(&self.project, dataset, table, None)
                .await
            {
                Ok(t) => Ok(Some(TableInfo {
                    columns: t
                        .schema
                        .fields
                        .unwrap_or_default()
                        .into_iter()
                        .map(|f| (f.name, type_name(&f.r#type)))
                        .collect(),
                    rows: t.num_rows.and_then(|n| n.parse().ok()).unwrap_or(0),
                })),
                Err(BQError::ResponseError { error }) if error.error.code == 404 => Ok(None),
                Err(e) => Err(backend(format!(
                    "cannot read table {dataset}.{table}: {}",
                    describe(&e)
                ))),
            }
        })
    }

    pub fn delete_table(&self, dataset: &str, table: &str) -> Result<()> {
        self.runtime.block_on(async {
            match self
                .client
                .table()
                .delete(&self.project, dataset, table)
                .await
            {
                Ok(()) => Ok(()),
                Err(BQError::ResponseError { error }) if error.error.code == 404 => Ok(()),
                Err(e) => Err(backend(format!(
                    "cannot delete table {dataset}.{table}: {}",
                    describe(&e)
                ))),
            }
        })
    }
}

fn state(job: &Job) -> &str {
    job.status
        .as_ref()
        .and_then(|s| s.state.as_deref())
        .unwrap_or("PENDING")
}

fn usage(job: &Job) -> JobUsage {
    let stats = job.statistics.as_ref();
    let number = |v: Option<&String>| v.and_then(|n| n.parse().ok());
    JobUsage {
        bytes_processed: number(stats.and_then(|s| s.total_bytes_processed.as_ref())),
        slot_ms: number(stats.and_then(|s| s.total_slot_ms.as_ref())),
    }
}

/// Label values: lowercase letters, digits, `_` and `-`, at most 63 characters.
fn label_value(text: &str) -> String {
    text.to_ascii_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .take(63)
        .collect()
}

fn describe(e: &BQError) -> String {
    match e {
        BQError::ResponseError { error } => {
            let reason = error
                .error
                .errors
                .first()
                .and_then(|e| e.get("reason"))
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!("{}{reason}", error.error.message)
        }
        other => other.to_string(),
    }
}

fn request_error(e: BQError, sql: &str, job: JobFor) -> WarehouseError {
    let message = describe(&e);
    WarehouseError::new(format!(
        "BigQuery rejected the job{}: {}",
        job.table.map(|t| format!(" for {t}")).unwrap_or_default(),
        with_position(&message, sql, job)
    ))
}

fn job_error(job_id: &str, error: &ErrorProto, sql: &str, job: JobFor) -> WarehouseError {
    let message = error.message.as_deref().unwrap_or("unknown error");
    let reason = error
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let text = format!(
        "BigQuery job {job_id}{} failed{reason}: {}",
        job.table.map(|t| format!(" for {t}")).unwrap_or_default(),
        with_position(message, sql, job)
    );
    WarehouseError {
        kind: failure_kind(message),
        ..WarehouseError::new(text)
    }
}

/// BigQuery reports query and data errors alike as `invalidQuery`; the
/// message tells a statement that can never run from data that does not fit.
fn failure_kind(message: &str) -> FailureKind {
    const STATEMENT: [&str; 6] = [
        "Syntax error",
        "Unrecognized name",
        "Not found: Table",
        "Not found: Dataset",
        "No matching signature",
        "Function not found",
    ];
    if STATEMENT.iter().any(|start| message.starts_with(start)) {
        FailureKind::Statement
    } else {
        FailureKind::Unknown
    }
}

/// Adds where a `[line:column]` in a BigQuery message falls in the user's SQL.
fn with_position(message: &str, sql: &str, job: JobFor) -> String {
    let Some((line, column)) = position(message) else {
        return message.to_string();
    };
    let Some(user_sql) = job.user_sql.filter(|u| !u.trim().is_empty()) else {
        return message.to_string();
    };
    let Some(offset) = sql.find(user_sql.trim()) else {
        return message.to_string();
    };
    let first_line = sql[..offset].matches('\n').count() + 1;
    let user_lines: Vec<&str> = user_sql.trim().lines().collect();
    match line.checked_sub(first_line) {
        Some(i) if i < user_lines.len() => format!(
            "{message}\n  at line {}, column {column} of the SQL of {}: {}",
            i + 1,
            job.table.unwrap_or("the table"),
            user_lines[i].trim()
        ),
        _ => message.to_string(),
    }
}

/// The `[line:column]` BigQuery puts at the end of a syntax or name error.
fn position(message: &str) -> Option<(usize, usize)> {
    let open = message.rfind('[')?;
    let close = open + message[open..].find(']')?;
    let (line, column) = message[open + 1..close].split_once(':')?;
    Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
}

fn type_name(field: &FieldType) -> String {
    serde_json::to_value(field)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{field:?}").to_ascii_uppercase())
}

/// JSON for one cell: numbers as numbers, timestamps in RFC 3339 UTC.
fn to_json(value: Option<serde_json::Value>, field: &FieldType) -> serde_json::Value {
    use serde_json::Value as J;
    let Some(value) = value else {
        return J::Null;
    };
    let J::String(text) = &value else {
        return value;
    };
    match field {
        FieldType::Integer | FieldType::Int64 => text.parse::<i64>().map_or(value, J::from),
        FieldType::Float | FieldType::Float64 => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(value, J::Number),
        FieldType::Boolean | FieldType::Bool => J::Bool(text == "true"),
        FieldType::Timestamp => text.parse::<f64>().map_or(value, |seconds| {
            J::String(crate::time::format_ts_precise(crate::time::from_micros(
                (seconds * 1e6).round() as i64,
            )))
        }),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_positions_point_into_the_users_sql() {
        let user = "SELECT user_id,\n  bogus\nFROM raw.messages";
        let sql = format!("CREATE OR REPLACE TABLE core.t AS\nSELECT * FROM (\n{user}\n)");
        let job = JobFor {
            table: Some("core.t"),
            run_id: Some(1),
            env: Some("prod"),
            user_sql: Some(user),
            deadline: None,
        };
        assert_eq!(
            with_position("Unrecognized name: bogus at [4:3]", &sql, job),
            "Unrecognized name: bogus at [4:3]\n  at line 2, column 3 of the SQL of core.t: bogus"
        );
        assert_eq!(
            with_position("Unrecognized name: x at [1:1]", &sql, job),
            "Unrecognized name: x at [1:1]"
        );
        assert_eq!(with_position("Access Denied", &sql, job), "Access Denied");
    }

    #[test]
    fn labels_are_what_bigquery_accepts() {
        assert_eq!(label_value("core.Daily_Users"), "core-daily_users");
        assert_eq!(label_value(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn cells_become_typed_json() {
        let s = |v: &str| Some(serde_json::Value::String(v.into()));
        assert_eq!(to_json(s("42"), &FieldType::Int64), serde_json::json!(42));
        assert_eq!(
            to_json(s("true"), &FieldType::Bool),
            serde_json::json!(true)
        );
        assert_eq!(
            to_json(s("1.7040672E9"), &FieldType::Timestamp),
            serde_json::json!("2024-01-01T00:00:00Z")
        );
        assert_eq!(to_json(None, &FieldType::String), serde_json::Value::Null);
    }
}
