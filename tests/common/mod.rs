//! Shared fixtures for end-to-end tests: a project in a temporary folder, its
//! warehouse opened with DuckDB directly, and the CLI called in-process or as
//! a process.
#![allow(dead_code)]

pub mod nats;
pub mod pg;

use clap::Parser;
use derived::cli::{self, Cli};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestProject {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub stdout: String,
    pub code: u8,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

impl TestProject {
    pub fn new() -> TestProject {
        TestProject {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) -> &Self {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.root().join(relative)).unwrap();
    }

    pub fn warehouse_path(&self) -> PathBuf {
        self.root().join(".derived/warehouse.duckdb")
    }

    /// Runs SQL on the warehouse file directly (for source data and checks).
    pub fn sql(&self, sql: &str) {
        std::fs::create_dir_all(self.root().join(".derived")).unwrap();
        let conn = duckdb::Connection::open(self.warehouse_path()).unwrap();
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// Rows of a query on the warehouse, every value as text.
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let conn = duckdb::Connection::open(self.warehouse_path()).unwrap();
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM ({sql}) ORDER BY ALL"))
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        let mut rows = stmt.query([]).unwrap();
        let n = rows.as_ref().unwrap().column_count();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            out.push(
                (0..n)
                    .map(|i| render(row.get::<_, duckdb::types::Value>(i).unwrap()))
                    .collect(),
            );
        }
        out
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.rows(&format!("SELECT count(*) FROM ({sql})"))[0][0]
            .parse()
            .unwrap()
    }

    /// Calls the CLI in-process: `derived <args> --project <root>`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all = vec!["derived", "--project", self.root().to_str().unwrap()];
        all.extend_from_slice(args);
        let parsed =
            Cli::try_parse_from(&all).unwrap_or_else(|e| panic!("bad arguments {all:?}: {e}"));
        match cli::run(parsed) {
            Ok(o) => Output {
                stdout: o.stdout,
                code: o.code,
            },
            Err(e) => Output {
                stdout: format!("error: {e:#}"),
                code: 2,
            },
        }
    }

    /// `derived source mark SOURCE --through THROUGH --now NOW`, which must succeed.
    pub fn mark(&self, source: &str, through: &str, now: &str) -> &Self {
        let out = self.cli(&["source", "mark", source, "--through", through, "--now", now]);
        assert_eq!(out.code, 0, "source mark: {}", out.stdout);
        self
    }

    /// Marks SOURCE complete through THROUGH, then `run --now NOW`, which must
    /// succeed; returns the run's JSON report.
    pub fn mark_and_run(&self, source: &str, through: &str, now: &str) -> serde_json::Value {
        let out = self
            .mark(source, through, now)
            .cli(&["run", "--now", now, "--format", "json"]);
        assert_eq!(out.code, 0, "run: {}", out.stdout);
        out.json()
    }

    /// Runs the built binary as a process.
    pub fn process(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_derived"));
        command.arg("--project").arg(self.root()).args(args);
        command
    }

    /// The metadata log as JSON objects (newest first).
    pub fn log(&self, table: Option<&str>) -> Vec<serde_json::Value> {
        let mut args = vec!["log", "--format", "json", "--limit", "100000"];
        args.extend(table);
        self.cli(&args)
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn render(v: duckdb::types::Value) -> String {
    use duckdb::types::Value;
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) => s,
        other => {
            let j = derived::warehouse::duckdb::to_json(other);
            match j {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }
        }
    }
}

/// A source of events `(ts TIMESTAMP, user_id BIGINT, kind VARCHAR)` whose
/// completeness is declared with marks.
pub const EVENTS_SOURCE: &str = "name: raw.events
kind: source
time_column: ts
freshness: {method: marks}
columns:
  - {name: ts, type: TIMESTAMP}
  - {name: user_id, type: BIGINT, policy: pii}
";

pub fn hourly_counts(extra: &str) -> String {
    format!(
        "name: hourly.counts
schedule: hourly
strategy: append
time_column: hour
start: 2024-01-01
{extra}columns:
  - {{name: hour, type: TIMESTAMP}}
  - {{name: events, type: BIGINT}}
sql: |
  SELECT date_trunc('hour', ts) AS hour, count(*) AS events
  FROM raw.events
  WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}}
  GROUP BY ALL
"
    )
}

pub const DAILY_COUNTS: &str = "name: daily.counts
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {name: day, type: DATE}
  - {name: events, type: BIGINT}
  - {name: hours, type: BIGINT}
sql: |
  SELECT CAST(hour AS DATE) AS day, sum(events) AS events, count(*) AS hours
  FROM hourly.counts
  WHERE hour >= {{ start }} AND hour < {{ end }}
  GROUP BY ALL
";

/// One event per hour per user for `users` users over `[from, to)` hours.
pub fn insert_events(project: &TestProject, from: &str, to: &str, users: i64) {
    project.sql(&format!(
        "CREATE SCHEMA IF NOT EXISTS raw;
         CREATE TABLE IF NOT EXISTS raw.events (ts TIMESTAMP, user_id BIGINT, kind VARCHAR);
         INSERT INTO raw.events
         SELECT h + INTERVAL 10 MINUTE, u, 'message'
         FROM range(TIMESTAMP '{from}', TIMESTAMP '{to}', INTERVAL 1 HOUR) AS t(h), range(1, {users} + 1) AS r(u);"
    ));
}

pub fn events_project() -> TestProject {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write("tables/hourly/counts.yml", &hourly_counts(""));
    p.write("tables/daily/counts.yml", DAILY_COUNTS);
    p
}

/// Copies every file under `from` (a folder of the repository, e.g.
/// `examples/bigquery`) to the same relative path in the project.
pub fn copy_from_repo(project: &TestProject, from: &str, to: &str) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = repo.join(from);
    for entry in walkdir::WalkDir::new(&source)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            let relative = entry.path().strip_prefix(&source).unwrap();
            let target = project.root().join(to).join(relative);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the repository's example warehouse (tables, data, derived.yml).
pub fn example_project() -> TestProject {
    let p = TestProject::new();
    copy_from_repo(&p, "tables", "tables");
    copy_from_repo(&p, "data", "data");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("derived.yml"), p.root().join("derived.yml")).unwrap();
    p
}

/// Reads the worker's stderr until it says where it serves, then keeps draining it.
pub fn served_address(child: &mut std::process::Child) -> String {
    let stderr = child.stderr.take().unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("serving /health and /metrics on http://") {
            break rest.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    address
}

pub fn http_get(address: &str, path: &str) -> (u16, String) {
    http(address, "GET", path, None)
}

/// One HTTP/1.1 request; the status code (0 when nothing answered) and the body.
pub fn http(address: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return (0, String::new());
    };
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    if stream.read_to_end(&mut raw).is_err() || raw.len() < 12 {
        return (0, String::new());
    }
    let code = String::from_utf8_lossy(&raw[9..12]).parse().unwrap_or(0);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&raw[split..])
    } else {
        raw[split..].to_vec()
    };
    (code, String::from_utf8_lossy(&body).to_string())
}

/// A `Transfer-Encoding: chunked` body, joined.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        let rest = &body[line_end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// `git ARGS` in the project folder, which must succeed; its output, trimmed.
pub fn git(p: &TestProject, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(p.root())
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Sends SIGTERM to a process.
pub fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
