//! A stand-in for BigQuery's REST API (v2) that records every call the adapter
//! makes and answers with the documented JSON shapes: jobs.insert / jobs.get /
//! jobs.getQueryResults (with paging), tables.get / tables.delete, and error
//! bodies. It keeps just enough state to answer truthfully: which tables exist
//! (stages, copies, drops), and which runs committed.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One REST call: method, path (job ids kept), and the query parameters.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
}

/// One inserted job.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub sql: String,
    pub labels: BTreeMap<String, String>,
    pub dry_run: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Table {
    pub columns: Vec<(String, String)>,
    pub rows: u64,
    /// The job that last wrote it, to tell whether a failed run touched it.
    pub written_by: String,
}

#[derive(Default)]
pub struct State {
    pub calls: Vec<Call>,
    pub jobs: Vec<Job>,
    pub tables: BTreeMap<String, Table>,
    pub datasets: BTreeSet<String>,
    /// run_id → rows, from `INSERT INTO _derived.commits`.
    pub commits: BTreeMap<i64, u64>,
    /// Output columns of each derived table (`dataset.table`), for its stages.
    pub schemas: BTreeMap<String, Vec<(String, String)>>,
    /// A job whose SQL contains the needle fails with the message.
    pub failures: Vec<(String, String)>,
    /// A job whose SQL contains one of these runs until it is cancelled.
    pub hangs: Vec<String>,
    /// Jobs cancelled through `jobs.cancel`.
    pub cancelled: Vec<String>,
    /// What `max(time)` of every source answers (microseconds).
    pub source_max_micros: i64,
    rows_per_stage: u64,
}

#[derive(Clone)]
pub struct FakeBigQuery {
    pub state: Arc<Mutex<State>>,
    pub url: String,
    // Keeps the server alive for the fake's lifetime.
    _server: Arc<MockServer>,
    _runtime: Arc<tokio::runtime::Runtime>,
}

impl FakeBigQuery {
    pub fn start(source_max: &str) -> FakeBigQuery {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime.block_on(MockServer::start());
        let state = Arc::new(Mutex::new(State {
            source_max_micros: derived::time::to_micros(
                derived::time::parse_timestamp(source_max).unwrap(),
            ),
            rows_per_stage: 10,
            ..State::default()
        }));
        runtime.block_on(
            Mock::given(any())
                .respond_with(Responder(state.clone()))
                .mount(&server),
        );
        FakeBigQuery {
            url: server.uri(),
            state,
            _server: Arc::new(server),
            _runtime: Arc::new(runtime),
        }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn set_schema(&self, table: &str, columns: &[(&str, &str)]) {
        self.state().schemas.insert(
            table.to_string(),
            columns
                .iter()
                .map(|(c, t)| (c.to_string(), t.to_string()))
                .collect(),
        );
    }

    pub fn fail_when(&self, needle: &str, message: &str) {
        self.state()
            .failures
            .push((needle.to_string(), message.to_string()));
    }

    pub fn hang_when(&self, needle: &str) {
        self.state().hangs.push(needle.to_string());
    }

    pub fn jobs(&self) -> Vec<Job> {
        self.state().jobs.clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let path = request.url.path().to_string();
        state.calls.push(Call {
            method: request.method.to_string(),
            path: path.clone(),
            query: request.url.query().unwrap_or_default().to_string(),
        });
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let page_token = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "pageToken")
            .map(|(_, v)| v.to_string());
        match (request.method.as_str(), parts.as_slice()) {
            ("POST", ["projects", _, "jobs"]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                state.insert(&body)
            }
            ("GET", ["projects", _, "jobs", id]) => {
                let hangs = state.is_hanging(id);
                state.job_response(id, if hangs { "RUNNING" } else { "DONE" })
            }
            ("POST", ["projects", _, "jobs", id, "cancel"]) => {
                state.cancelled.push(id.to_string());
                let job = state.job_body(id, "DONE");
                ResponseTemplate::new(200)
                    .set_body_json(json!({"kind": "bigquery#jobCancelResponse", "job": job}))
            }
            ("GET", ["projects", _, "queries", id]) => state.results(id, page_token),
            ("GET", ["projects", _, "datasets", dataset, "tables", table]) => {
                let name = format!("{dataset}.{table}");
                match state.tables.get(&name) {
                    Some(t) => ResponseTemplate::new(200).set_body_json(json!({
                        "kind": "bigquery#table",
                        "tableReference": {"projectId": "derived-example", "datasetId": dataset, "tableId": table},
                        "schema": {"fields": t.columns.iter().map(|(n, ty)| json!({"name": n, "type": ty, "mode": "NULLABLE"})).collect::<Vec<_>>()},
                        "numRows": t.rows.to_string(),
                        "type": "TABLE",
                    })),
                    None => not_found(&format!("Not found: Table derived-example:{name}")),
                }
            }
            ("DELETE", ["projects", _, "datasets", dataset, "tables", table]) => {
                match state.tables.remove(&format!("{dataset}.{table}")) {
                    Some(_) => ResponseTemplate::new(204),
                    None => not_found(&format!("Not found: Table derived-example:{dataset}.{table}")),
                }
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({
                "error": {"code": 404, "message": format!("no such endpoint: {path}"), "errors": [], "status": "NOT_FOUND"}
            })),
        }
    }
}

fn not_found(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "error": {"code": 404, "message": message,
                  "errors": [{"message": message, "domain": "global", "reason": "notFound"}],
                  "status": "NOT_FOUND"}
    }))
}

/// The first table name after `prefix` in a statement.
fn name_after<'a>(statement: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = statement.trim_start().strip_prefix(prefix)?;
    rest.split_whitespace().next()
}

fn base_table(name: &str) -> &str {
    name.split("__derived_").next().unwrap_or(name)
}

impl State {
    fn insert(&mut self, body: &Value) -> ResponseTemplate {
        let id = body["jobReference"]["jobId"].as_str().unwrap().to_string();
        let config = &body["configuration"];
        let sql = config["query"]["query"].as_str().unwrap().to_string();
        let labels = config["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let dry_run = config["dryRun"].as_bool() == Some(true);
        self.jobs.push(Job {
            id: id.clone(),
            sql: sql.clone(),
            labels,
            dry_run,
        });
        let failure = self
            .failures
            .iter()
            .find(|(needle, _)| sql.contains(needle.as_str()))
            .map(|(_, message)| message.clone());
        if dry_run {
            return match failure {
                Some(message) => ResponseTemplate::new(400).set_body_json(json!({
                    "error": {"code": 400, "message": message,
                              "errors": [{"message": message, "domain": "global", "reason": "invalidQuery", "location": "q", "locationType": "parameter"}],
                              "status": "INVALID_ARGUMENT"}
                })),
                None => ResponseTemplate::new(200).set_body_json(json!({
                    "kind": "bigquery#job",
                    "jobReference": {"projectId": "derived-example", "location": "US"},
                    "configuration": config,
                    "status": {"state": "DONE"},
                    "statistics": {"totalBytesProcessed": (sql.len() * 1000).to_string(),
                                   "query": {"totalBytesProcessed": (sql.len() * 1000).to_string()}},
                })),
            };
        }
        if self.is_hanging(&id) {
            return ResponseTemplate::new(200).set_body_json(self.job_body(&id, "RUNNING"));
        }
        if failure.is_none() {
            self.apply(&id, &sql);
        }
        // Scripts report RUNNING first, so the adapter has to poll them.
        let state = if sql.starts_with("BEGIN TRANSACTION") {
            "RUNNING"
        } else {
            "DONE"
        };
        let mut response = self.job_body(&id, state);
        if let Some(message) = failure {
            response["status"] = json!({
                "state": "DONE",
                "errorResult": {"reason": "invalidQuery", "location": "query", "message": message},
                "errors": [{"reason": "invalidQuery", "location": "query", "message": message}],
            });
            self.jobs
                .last_mut()
                .unwrap()
                .labels
                .insert("failed".into(), "true".into());
        }
        ResponseTemplate::new(200).set_body_json(response)
    }

    /// A job that never finishes on its own (until cancelled).
    fn is_hanging(&self, id: &str) -> bool {
        !self.cancelled.iter().any(|c| c == id)
            && self.jobs.iter().any(|j| {
                j.id == id
                    && self
                        .hangs
                        .iter()
                        .any(|needle| j.sql.contains(needle.as_str()))
            })
    }

    fn job_body(&self, id: &str, state: &str) -> Value {
        json!({
            "kind": "bigquery#job",
            "id": format!("derived-example:US.{id}"),
            "jobReference": {"projectId": "derived-example", "jobId": id, "location": "US"},
            "status": {"state": state},
            "statistics": {"creationTime": "1706000000000", "startTime": "1706000000100",
                           "totalBytesProcessed": "1048576", "totalSlotMs": "250"},
        })
    }

    fn job_response(&self, id: &str, state: &str) -> ResponseTemplate {
        let Some(job) = self.jobs.iter().find(|j| j.id == id) else {
            return not_found(&format!("Not found: Job derived-example:US.{id}"));
        };
        let mut body = self.job_body(id, state);
        if job.labels.contains_key("failed") {
            let message = self
                .failures
                .iter()
                .find(|(needle, _)| job.sql.contains(needle.as_str()))
                .map(|(_, m)| m.clone())
                .unwrap_or_default();
            body["status"] = json!({"state": "DONE", "errorResult": {"reason": "invalidQuery", "location": "query", "message": message}});
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// What a successful job did to the tables.
    fn apply(&mut self, job_id: &str, sql: &str) {
        for statement in sql.split(";\n") {
            let statement = statement.trim();
            if let Some(dataset) = name_after(statement, "CREATE SCHEMA IF NOT EXISTS") {
                self.datasets.insert(dataset.to_string());
            } else if let Some(target) = name_after(statement, "CREATE OR REPLACE TABLE") {
                let copy_of = statement
                    .split(" CLONE ")
                    .nth(1)
                    .map(|s| s.trim().to_string());
                let table = match copy_of.and_then(|source| self.tables.get(&source).cloned()) {
                    Some(source) => Table {
                        written_by: job_id.to_string(),
                        ..source
                    },
                    None => Table {
                        columns: self
                            .schemas
                            .get(base_table(target))
                            .cloned()
                            .unwrap_or_default(),
                        rows: self.rows_per_stage,
                        written_by: job_id.to_string(),
                    },
                };
                self.tables.insert(target.to_string(), table);
            } else if let Some(target) = name_after(statement, "CREATE TABLE IF NOT EXISTS") {
                if target != "_derived.commits" && !self.tables.contains_key(target) {
                    let columns = self
                        .schemas
                        .get(base_table(target))
                        .cloned()
                        .unwrap_or_default();
                    self.tables.insert(
                        target.to_string(),
                        Table {
                            columns,
                            rows: 0,
                            written_by: job_id.to_string(),
                        },
                    );
                }
            } else if let Some(target) = name_after(statement, "DROP TABLE") {
                self.tables.remove(target);
            } else if let Some(target) = name_after(statement, "MERGE INTO") {
                if let Some(t) = self.tables.get_mut(target) {
                    t.rows += self.rows_per_stage;
                    t.written_by = job_id.to_string();
                }
            } else if statement.starts_with("INSERT INTO _derived.commits") {
                let values = statement.split("VALUES (").nth(1).unwrap_or_default();
                let fields: Vec<&str> = values.split(", ").collect();
                self.commits
                    .insert(fields[0].parse().unwrap(), fields[2].parse().unwrap());
            }
        }
    }

    fn results(&self, id: &str, page_token: Option<String>) -> ResponseTemplate {
        let Some(job) = self.jobs.iter().find(|j| j.id == id) else {
            return not_found(&format!("Not found: Job derived-example:US.{id}"));
        };
        let sql = job.sql.as_str();
        let field = |name: &str, ty: &str| json!({"name": name, "type": ty, "mode": "NULLABLE"});
        let cells = |values: Vec<Value>| json!({"f": values.into_iter().map(|v| json!({"v": v})).collect::<Vec<_>>()});
        let (fields, rows, next): (Vec<Value>, Vec<Value>, Option<&str>) = if sql
            .contains("UNIX_MICROS(MAX(")
        {
            (
                vec![field("max_time", "INTEGER")],
                vec![cells(vec![json!(self.source_max_micros.to_string())])],
                None,
            )
        } else if sql.contains("FROM _derived.commits WHERE run_id IN") {
            let listed = sql
                .split("IN (")
                .nth(1)
                .unwrap_or_default()
                .trim_end_matches(')');
            let wanted: BTreeSet<i64> = listed.split(", ").filter_map(|n| n.parse().ok()).collect();
            (
                vec![field("run_id", "INTEGER"), field("rows_written", "INTEGER")],
                self.commits
                    .iter()
                    .filter(|(id, _)| wanted.contains(id))
                    .map(|(id, rows)| cells(vec![json!(id.to_string()), json!(rows.to_string())]))
                    .collect(),
                None,
            )
        } else if sql.starts_with("SELECT COUNT(*) AS failing") {
            (
                vec![field("failing", "INTEGER")],
                vec![cells(vec![json!("0")])],
                None,
            )
        } else if sql.contains("FROM paged") {
            // Three pages of two rows: (n INT64, at TIMESTAMP).
            let page: i64 = page_token.as_deref().map_or(0, |t| t[1..].parse().unwrap());
            let rows = (0..2)
                .map(|i| {
                    let n = page * 2 + i;
                    let seconds = 1_704_067_200 + n * 3600;
                    cells(vec![
                        json!(n.to_string()),
                        json!(format!("{}E9", seconds as f64 / 1e9)),
                    ])
                })
                .collect();
            let next = match page {
                0 => Some("p1"),
                1 => Some("p2"),
                _ => None,
            };
            (
                vec![field("n", "INTEGER"), field("at", "TIMESTAMP")],
                rows,
                next,
            )
        } else {
            (Vec::new(), Vec::new(), None)
        };
        let mut body = json!({
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": {"projectId": "derived-example", "jobId": id, "location": "US"},
            "jobComplete": true,
            "totalRows": rows.len().to_string(),
            "schema": {"fields": fields},
            "rows": rows,
            "cacheHit": false,
        });
        if let Some(token) = next {
            body["pageToken"] = json!(token);
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}
