//! A BigQuery emulator (local-bigquery, started by `ci/bigquery-emulator.sh`)
//! shared by the tests of one binary. Each test works in its own project id,
//! so tests running side by side never see each other's datasets.
//!
//! The emulator exits when its standard input closes, that is when the test
//! process ends, however it ends. A missing Python 3.13 fails the test.

use crate::common::http;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Emulator {
    /// `host:port` of its REST API.
    pub address: String,
    _process: Mutex<Child>,
}

/// The binary's emulator, started on first use.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(Emulator::start)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Emulator {
    fn start() -> Emulator {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/bigquery-emulator.sh");
        let data = tempfile::tempdir().unwrap().keep();
        let log_path = data.join("emulator.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let (port, grpc_port) = (free_port(), free_port());
        let mut child = Command::new(script)
            .args(["exec", "--host", "127.0.0.1", "--project", "test-project"])
            .args([
                "--port",
                &port.to_string(),
                "--grpc-port",
                &grpc_port.to_string(),
            ])
            .arg("--data-dir")
            .arg(data.join("lake"))
            .env("DERIVED_BQ_EXIT_ON_EOF", "1")
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let address = format!("127.0.0.1:{port}");
        // The first start may install the emulator from PyPI.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("the BigQuery emulator exited ({status}) before it was ready:\n{log}");
            }
            if std::net::TcpStream::connect(&address).is_ok()
                && http(
                    &address,
                    "GET",
                    "/bigquery/v2/projects/test-project/datasets",
                    None,
                )
                .0 == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the BigQuery emulator was not ready after 10 minutes; see {}",
                log_path.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Emulator {
            address,
            _process: Mutex::new(child),
        }
    }

    /// The base URL for `endpoint:` in derived.yml.
    pub fn url(&self) -> String {
        format!("http://{}/bigquery/v2", self.address)
    }

    /// Runs one statement (or script) in `project`; its rows as JSON values
    /// by column name. Panics with BigQuery's message on an error.
    pub fn sql(&self, project: &str, sql: &str) -> Vec<serde_json::Map<String, Value>> {
        let body = json!({"query": sql, "useLegacySql": false, "timeoutMs": 120000});
        let (code, text) = http(
            &self.address,
            "POST",
            &format!("/bigquery/v2/projects/{project}/queries"),
            Some(&body.to_string()),
        );
        let answer: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("HTTP {code} for {sql}: {text}"));
        assert_eq!(code, 200, "{sql}: {answer}");
        let fields: Vec<&str> = answer["schema"]["fields"]
            .as_array()
            .map(|f| f.iter().map(|f| f["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        answer["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        fields
                            .iter()
                            .zip(row["f"].as_array().unwrap())
                            .map(|(name, cell)| (name.to_string(), cell["v"].clone()))
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The one cell of a one-row, one-column query, as text.
    pub fn scalar(&self, project: &str, sql: &str) -> String {
        let rows = self.sql(project, sql);
        assert_eq!(rows.len(), 1, "{sql}");
        match rows[0].values().next().unwrap() {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// `derived.yml` for a project whose warehouse is `project` on this emulator.
    pub fn config(&self, project: &str) -> String {
        format!(
            "warehouse: {{type: bigquery, project: {project}, location: US, endpoint: '{}'}}\ndialect: bigquery\n",
            self.url()
        )
    }
}
