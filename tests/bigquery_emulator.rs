//! The BigQuery warehouse on a real engine: the CLI runs through
//! gcp-bigquery-client against a BigQuery emulator that executes BigQuery SQL
//! (`ci/bigquery-emulator.sh`), and the tests read the data back. Each test
//! works in its own BigQuery project of the one emulator.

#[path = "common/bigquery_emulator.rs"]
mod bigquery_emulator;
mod common;

use bigquery_emulator::emulator;
use common::{git, TestProject};
use redis::Commands;
use serde_json::Value;
use std::collections::BTreeMap;

const NOW: &str = "2024-01-04T00:00:00Z";

const EVENTS: &str = "name: raw.events
kind: source
time_column: ts
freshness: {method: marks}
columns:
  - {name: ts, type: TIMESTAMP}
  - {name: user_id, type: INT64}
  - {name: kind, type: STRING}
";

const HOURLY: &str = "name: hourly.counts
schedule: hourly
strategy: append
time_column: hour
start: 2024-01-01
columns:
  - {name: hour, type: TIMESTAMP}
  - {name: events, type: INT64}
sql: |
  SELECT TIMESTAMP_TRUNC(ts, HOUR) AS hour, COUNT(*) AS events
  FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY hour
";

const DAILY: &str = "name: daily.counts
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {name: day, type: TIMESTAMP}
  - {name: events, type: INT64}
  - {name: hours, type: INT64}
sql: |
  SELECT TIMESTAMP_TRUNC(hour, DAY) AS day, SUM(events) AS events, COUNT(*) AS hours
  FROM hourly.counts
  WHERE hour >= {{ start }} AND hour < {{ end }}
  GROUP BY day
";

/// A project on the emulator's BigQuery project `id`, with `raw.events`
/// holding one event per hour per user for `users` users over `[from, to)`.
fn events_project(id: &str, from: &str, to: &str, users: i64) -> TestProject {
    let p = TestProject::new();
    p.write("derived.yml", &emulator().config(id));
    p.write("tables/raw/events.yml", EVENTS);
    emulator().sql(id, "CREATE SCHEMA raw");
    emulator().sql(
        id,
        "CREATE TABLE raw.events (ts TIMESTAMP, user_id INT64, kind STRING)",
    );
    insert_events(id, from, to, users);
    p
}

fn insert_events(id: &str, from: &str, to: &str, users: i64) {
    emulator().sql(
        id,
        &format!(
            "INSERT INTO raw.events
             SELECT TIMESTAMP_ADD(h, INTERVAL 10 MINUTE), u, 'message'
             FROM UNNEST(GENERATE_TIMESTAMP_ARRAY(TIMESTAMP '{from}', TIMESTAMP_SUB(TIMESTAMP '{to}', INTERVAL 1 HOUR), INTERVAL 1 HOUR)) AS h,
                  UNNEST(GENERATE_ARRAY(1, {users})) AS u"
        ),
    );
}

fn run_json(p: &TestProject, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = p.cli(&all);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stdout);
    out.json()
}

fn actions(report: &Value) -> Vec<(String, String)> {
    report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `(day, events, hours)` of `daily.counts`, in day order.
fn daily_rows(id: &str, dataset: &str) -> Vec<(String, String, String)> {
    emulator()
        .sql(
            id,
            &format!(
                "SELECT CAST(DATE(day) AS STRING) AS day, events, hours FROM {dataset}.counts ORDER BY day"
            ),
        )
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or("NULL").to_string();
            (text("day"), text("events"), text("hours"))
        })
        .collect()
}

#[test]
fn hourly_increments_a_backfill_with_downstream_repair_and_a_rebuild() {
    let id = "increments";
    let p = events_project(id, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 2);
    p.write("tables/hourly/counts.yml", HOURLY);
    p.write("tables/daily/counts.yml", DAILY);

    p.mark("raw.events", "2024-01-01T23:00:00Z", NOW);
    let first = run_json(&p, &["run", "--now", NOW]);
    assert_eq!(actions(&first), [("hourly.counts".into(), "create".into())]);
    assert_eq!(
        emulator().scalar(id, "SELECT COUNT(*) FROM hourly.counts"),
        "23"
    );

    let last_hour = p.mark_and_run("raw.events", "2024-01-02T00:00:00Z", NOW);
    assert_eq!(
        actions(&last_hour),
        [
            ("hourly.counts".into(), "increment".into()),
            ("daily.counts".into(), "create".into())
        ],
        "the 24th hour and the day it completes, in one run"
    );
    assert_eq!(
        daily_rows(id, "daily"),
        [("2024-01-01".into(), "48".into(), "24".into())]
    );
    assert!(
        actions(&run_json(&p, &["run", "--now", NOW])).is_empty(),
        "a second run is a no-op"
    );

    // Late rows for 10:00–12:00: a backfill re-runs those hours and repairs the day.
    insert_events(id, "2024-01-01 10:00:00", "2024-01-01 12:00:00", 3);
    let backfill = run_json(
        &p,
        &[
            "backfill",
            "hourly.counts",
            "--from",
            "2024-01-01T10:00:00Z",
            "--to",
            "2024-01-01T12:00:00Z",
            "--downstream",
            "--now",
            NOW,
        ],
    );
    assert_eq!(
        actions(&backfill),
        [
            ("hourly.counts".into(), "backfill".into()),
            ("daily.counts".into(), "repair".into())
        ]
    );
    assert_eq!(
        emulator().scalar(
            id,
            "SELECT STRING_AGG(CAST(events AS STRING), ',' ORDER BY hour) FROM hourly.counts WHERE hour BETWEEN '2024-01-01 09:00:00' AND '2024-01-01 12:00:00'"
        ),
        "2,5,5,2",
        "the two backfilled hours hold the late rows once"
    );
    assert_eq!(
        daily_rows(id, "daily"),
        [("2024-01-01".into(), "54".into(), "24".into())]
    );

    let rebuild = run_json(&p, &["rebuild", "daily.counts", "--now", NOW]);
    assert_eq!(
        actions(&rebuild)[0],
        ("daily.counts".into(), "rebuild".into())
    );
    assert_eq!(
        daily_rows(id, "daily"),
        [("2024-01-01".into(), "54".into(), "24".into())]
    );
    let leftovers = emulator().scalar(
        id,
        "SELECT COUNT(*) FROM daily.INFORMATION_SCHEMA.TABLES WHERE table_name LIKE '%__derived_%'",
    );
    assert_eq!(leftovers, "0", "no stage or rebuild table is left behind");
}

const VOICE: &str = "name: raw.voice
kind: source
time_column: started_at
freshness: {method: marks}
columns:
  - {name: started_at, type: TIMESTAMP}
  - {name: user_id, type: INT64}
  - {name: guild_id, type: INT64}
  - {name: seconds, type: INT64}
";

const FIRSTS: &str = "name: core.voice_firsts
schedule: daily
strategy: merge
time_column: last_at
start: 2024-01-01
unique_key: [user_id]
merge:
  first_at: min
  last_at: max
  first_guild: keep
  last_guild: overwrite
  sessions: sum
  longest: max
sql: |
  SELECT user_id,
         MIN(started_at) AS first_at,
         MAX(started_at) AS last_at,
         MIN_BY(guild_id, started_at) AS first_guild,
         MAX_BY(guild_id, started_at) AS last_guild,
         COUNT(*) AS sessions,
         MAX(seconds) AS longest
  FROM raw.voice
  WHERE started_at >= {{ start }} AND started_at < {{ end }}
  GROUP BY user_id
";

#[test]
fn merge_rules_apply_once_across_intervals_and_reruns() {
    let id = "merges";
    let p = TestProject::new();
    p.write("derived.yml", &emulator().config(id));
    p.write("tables/raw/voice.yml", VOICE);
    p.write("tables/core/voice_firsts.yml", FIRSTS);
    emulator().sql(id, "CREATE SCHEMA raw");
    emulator().sql(
        id,
        "CREATE TABLE raw.voice AS SELECT * FROM UNNEST([
           STRUCT(TIMESTAMP '2024-01-01 10:00:00' AS started_at, 1 AS user_id, 100 AS guild_id, 60 AS seconds),
           (TIMESTAMP '2024-01-01 12:00:00', 1, 101, 300),
           (TIMESTAMP '2024-01-02 09:00:00', 1, 102, 30),
           (TIMESTAMP '2024-01-02 11:00:00', 2, 200, 10),
           (TIMESTAMP '2024-01-03 08:00:00', 2, 201, 20),
           (TIMESTAMP '2024-01-03 23:00:00', 1, 103, 500)])",
    );
    p.mark_and_run("raw.voice", "2024-01-02T00:00:00Z", NOW);
    p.mark_and_run("raw.voice", "2024-01-04T00:00:00Z", NOW);
    assert!(
        actions(&run_json(&p, &["run", "--now", NOW])).is_empty(),
        "re-running applies nothing twice"
    );
    let rows = emulator().sql(
        id,
        "SELECT user_id, CAST(first_at AS STRING) AS first_at, CAST(last_at AS STRING) AS last_at,
                first_guild, last_guild, sessions, longest
         FROM core.voice_firsts ORDER BY user_id",
    );
    let order = [
        "user_id",
        "first_at",
        "last_at",
        "first_guild",
        "last_guild",
        "sessions",
        "longest",
    ];
    let flat: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| order.iter().map(|k| r[*k].as_str().unwrap()).collect())
        .collect();
    assert_eq!(
        flat,
        [
            vec![
                "1",
                "2024-01-01 10:00:00+00",
                "2024-01-03 23:00:00+00",
                "100",
                "103",
                "4",
                "500"
            ],
            vec![
                "2",
                "2024-01-02 11:00:00+00",
                "2024-01-03 08:00:00+00",
                "200",
                "201",
                "2",
                "20"
            ],
        ]
    );
}

#[test]
fn a_failing_job_names_the_table_and_leaves_it_untouched() {
    let id = "failures";
    let p = events_project(id, "2024-01-01 00:00:00", "2024-01-03 00:00:00", 2);
    p.write("tables/hourly/counts.yml", HOURLY);
    p.write("tables/daily/counts.yml", DAILY);
    p.mark_and_run("raw.events", "2024-01-02T00:00:00Z", NOW);
    let before = daily_rows(id, "daily");
    assert_eq!(before.len(), 1);

    // Day 2 divides by zero in its last hour: the whole write fails.
    p.write(
        "tables/daily/counts.yml",
        &DAILY.replace(
            "COUNT(*) AS hours",
            "COUNT(*) AS hours, MAX(DIV(1, IF(hour = '2024-01-02 23:00:00', 0, 1))) AS boom",
        ),
    );
    p.mark("raw.events", "2024-01-03T00:00:00Z", NOW);
    let out = p.cli(&["--format", "json", "run", "--now", NOW]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = out.json();
    let failed: Vec<&Value> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0]["table"], "daily.counts");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("daily.counts") && error.to_lowercase().contains("division by zero"),
        "{error}"
    );
    assert_eq!(
        daily_rows(id, "daily"),
        before,
        "the rebuild failed and the table is as it was"
    );
    assert_eq!(
        emulator().scalar(id, "SELECT COUNT(*) FROM hourly.counts"),
        "48",
        "the upstream increment landed"
    );
}

#[test]
fn checks_quote_mixed_case_and_reserved_column_names_and_can_fail() {
    let id = "checks";
    let p = events_project(id, "2024-01-01 00:00:00", "2024-01-03 00:00:00", 3);
    p.write(
        "tables/core/active.yml",
        "name: core.active
schedule: daily
strategy: append
time_column: Day
start: 2024-01-01
columns:
  - {name: Day, type: TIMESTAMP}
  - {name: DailyActiveUsers, type: INT64, checks: [not_null, {range: {min: 0, max: 2}}]}
  - {name: Group, type: INT64, checks: [not_null, {range: {min: 1}}]}
sql: |
  SELECT TIMESTAMP_TRUNC(ts, DAY) AS Day,
         IF(MIN(ts) >= '2024-01-02', NULL, COUNT(DISTINCT user_id)) AS DailyActiveUsers,
         COUNT(DISTINCT user_id) AS `Group`
  FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY Day
",
    );
    let validate = p.cli(&["validate"]);
    assert_eq!(validate.code, 0, "{}", validate.stdout);
    p.mark("raw.events", "2024-01-02T00:00:00Z", NOW);
    let out = p.cli(&["--format", "json", "run", "--now", NOW]);
    let report = out.json();
    let error = report["runs"][0]["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        error.contains("range") && error.contains("DailyActiveUsers"),
        "3 users is out of range 0..2: {report}"
    );
    assert_eq!(
        emulator().scalar(
            id,
            "SELECT COUNT(*) FROM core.INFORMATION_SCHEMA.TABLES WHERE table_name = 'active'"
        ),
        "0",
        "a failed check publishes nothing"
    );

    p.write(
        "tables/core/active.yml",
        &std::fs::read_to_string(p.root().join("tables/core/active.yml"))
            .unwrap()
            .replace("max: 2", "max: 3"),
    );
    let out = p.cli(&["--format", "json", "run", "--now", NOW]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    p.mark("raw.events", "2024-01-03T00:00:00Z", NOW);
    let out = p.cli(&["--format", "json", "run", "--now", NOW]);
    let error = out.json()["runs"][0]["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        out.code == 1 && error.contains("not_null") && error.contains("DailyActiveUsers"),
        "NULL on 2024-01-02 fails not_null: {}",
        out.stdout
    );
    assert_eq!(
        emulator().scalar(id, "SELECT COUNT(*) FROM core.active"),
        "1",
        "only the first day was published"
    );
}

#[test]
fn query_reads_the_warehouse_and_validate_dry_run_reports_errors() {
    let id = "queries";
    let p = events_project(id, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 2);
    p.write("tables/hourly/counts.yml", HOURLY);
    p.write("tables/daily/counts.yml", DAILY);
    p.mark_and_run("raw.events", "2024-01-02T00:00:00Z", NOW);
    let out = p.cli(&["--format", "json", "validate", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    p.write(
        "tables/daily/counts.yml",
        &DAILY.replace("SUM(events) AS events", "SUM(no_such_column) AS events"),
    );
    let out = p.cli(&["--format", "json", "validate", "--dry-run"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("daily.counts") && out.stdout.contains("no_such_column"),
        "{}",
        out.stdout
    );

    let out = p.cli(&[
        "--format",
        "json",
        "query",
        "SELECT user_id, COUNT(*) AS n, MIN(ts) AS first FROM raw.events GROUP BY user_id ORDER BY user_id",
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let result = out.json();
    assert_eq!(
        result["columns"],
        serde_json::json!(["user_id", "n", "first"])
    );
    assert_eq!(
        result["rows"],
        serde_json::json!([
            [1, 24, "2024-01-01T00:10:00Z"],
            [2, 24, "2024-01-01T00:10:00Z"]
        ])
    );
}

#[test]
fn ci_builds_a_shadow_on_bigquery_and_diffs_it_against_production() {
    let id = "shadows";
    let p = events_project(id, "2024-01-01 00:00:00", "2024-01-04 00:00:00", 3);
    p.write(".gitignore", ".derived/\n");
    p.write("tables/hourly/counts.yml", HOURLY);
    p.write(
        "tables/daily/counts.yml",
        &DAILY.replace("start: 2024-01-01", "start: 2024-01-01\nunique_key: [day]"),
    );
    git(&p, &["init", "-q", "-b", "main"]);
    git(&p, &["config", "user.email", "ds@example.com"]);
    git(&p, &["config", "user.name", "Data Scientist"]);
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-q", "-m", "tables"]);
    p.mark_and_run("raw.events", NOW, NOW);

    p.write(
        "tables/daily/counts.yml",
        &DAILY
            .replace("start: 2024-01-01", "start: 2024-01-01\nunique_key: [day]")
            .replace("SUM(events) AS events", "2 * SUM(events) AS events"),
    );
    git(&p, &["commit", "-q", "-am", "double"]);
    let head = git(&p, &["rev-parse", "HEAD"]);
    let ci = p.cli(&[
        "ci", "--base", "HEAD~1", "--head", "HEAD", "--last", "2d", "--now", NOW,
    ]);
    assert_eq!(ci.code, 0, "{}", ci.stdout);
    assert!(
        ci.stdout.contains("- modified: `daily.counts`"),
        "{}",
        ci.stdout
    );
    assert!(
        ci.stdout.contains("rows: prod 2 → shadow 2"),
        "{}",
        ci.stdout
    );
    assert!(
        ci.stdout
            .contains("by key: 0 only in shadow, 0 only in prod, 2 changed"),
        "{}",
        ci.stdout
    );
    let shadow = format!("shadow_{}__daily", &head[..7]);
    assert_eq!(
        daily_rows(id, &shadow),
        [
            ("2024-01-02".into(), "144".into(), "24".into()),
            ("2024-01-03".into(), "144".into(), "24".into())
        ]
    );
    assert_eq!(daily_rows(id, "daily").len(), 3, "production is untouched");
    assert_eq!(daily_rows(id, "daily")[2].1, "72");
}

#[test]
fn a_bigquery_table_exports_to_redis() {
    let id = "exports";
    let prefix = format!("bq_export_{}", std::process::id());
    let p = events_project(id, "2024-01-01 00:00:00", "2024-01-03 00:00:00", 2);
    p.write(
        "derived.yml",
        &format!(
            "{}stores:\n  redis: {{url: 'redis://127.0.0.1:6379'}}\n",
            emulator().config(id)
        ),
    );
    p.write(
        &format!("tables/{prefix}/daily.yml"),
        &format!(
            "name: {prefix}.daily
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
export:
  - {{to: redis, key: [day, user_id]}}
columns:
  - {{name: day, type: TIMESTAMP}}
  - {{name: user_id, type: INT64}}
  - {{name: events, type: INT64}}
sql: |
  SELECT TIMESTAMP_TRUNC(ts, DAY) AS day, user_id, COUNT(*) AS events FROM raw.events
  WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}} GROUP BY day, user_id
"
        ),
    );
    let mut redis = redis::Client::open("redis://127.0.0.1:6379")
        .and_then(|c| c.get_connection())
        .expect("Redis at 127.0.0.1:6379");
    let report = p.mark_and_run("raw.events", "2024-01-03T00:00:00Z", NOW);
    assert!(
        actions(&report).contains(&(format!("{prefix}.daily"), "export".into())),
        "{report}"
    );
    let keys: Vec<String> = redis.keys(format!("{prefix}.daily:*")).unwrap();
    assert_eq!(keys.len(), 4, "2 days × 2 users: {keys:?}");
    let stored: BTreeMap<String, String> = redis
        .hgetall(format!("{prefix}.daily:2024-01-02T00:00:00Z:2"))
        .unwrap();
    assert_eq!(
        stored.get("events").map(String::as_str),
        Some("24"),
        "{keys:?}"
    );
    let _: () = redis.del(keys).unwrap();
}

/// One table's rows, comparable across DuckDB and BigQuery: a DATE and the
/// midnight TIMESTAMP of that day are the same day, numbers compare to 9
/// significant digits, and rows are sorted.
fn comparable(result: &Value) -> Vec<BTreeMap<String, String>> {
    let columns: Vec<&str> = result["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut rows: Vec<BTreeMap<String, String>> = result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            columns
                .iter()
                .zip(row.as_array().unwrap())
                .map(|(c, v)| (c.to_string(), cell(v)))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Number(n) => number(n.as_f64().unwrap()),
        Value::String(s) => {
            if let Ok(n) = s.parse::<f64>() {
                return number(n);
            }
            let s = s.replace('T', " ");
            let s = s.trim_end_matches('Z').trim_end_matches("+00");
            s.strip_suffix(" 00:00:00").unwrap_or(s).to_string()
        }
        other => other.to_string(),
    }
}

fn number(n: f64) -> String {
    format!("{:.8e}", n)
}

#[test]
fn the_bigquery_example_builds_on_the_emulator_and_equals_the_duckdb_example() {
    let id = "example";
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = repo.join("data");
    emulator().sql(id, "CREATE SCHEMA raw");
    for (table, file, time) in [
        ("users", "users.parquet", "created_at"),
        ("messages", "messages/*.parquet", "sent_at"),
        ("voice_sessions", "voice_sessions.parquet", "started_at"),
        (
            "guild_member_events",
            "guild_member_events.parquet",
            "event_at",
        ),
    ] {
        let extra = if table == "voice_sessions" {
            ", TIMESTAMP(ended_at) AS ended_at"
        } else {
            ""
        };
        emulator().sql(
            id,
            &format!(
                "CREATE TABLE raw.{table} AS SELECT * REPLACE (TIMESTAMP({time}) AS {time}{extra}) FROM read_parquet('{}')",
                data.join(file).display()
            ),
        );
    }
    let bigquery = TestProject::new();
    common::copy_from_repo(&bigquery, "examples/bigquery", "");
    let config = std::fs::read_to_string(bigquery.root().join("derived.yml")).unwrap();
    let warehouse = config
        .lines()
        .find(|l| l.starts_with("warehouse:"))
        .expect("derived.yml names the warehouse on one line");
    bigquery.write(
        "derived.yml",
        &config
            .replace(warehouse, "")
            .replace("dialect: bigquery\n", "")
            .replace("\nvars:", &format!("\n{}vars:", emulator().config(id))),
    );
    let now = "2024-02-05T02:00:00Z";
    let report = run_json(&bigquery, &["run", "--now", now]);
    assert_eq!(report["failed"], 0, "{report}");
    assert!(
        actions(&run_json(&bigquery, &["run", "--now", now])).is_empty(),
        "a second run is a no-op"
    );

    let duckdb = common::example_project();
    let report = run_json(&duckdb, &["run", "--now", now]);
    assert_eq!(report["failed"], 0, "{report}");

    let project = derived::project::load(bigquery.root());
    let mut compared = 0;
    for table in project.tables() {
        let sql = format!("SELECT * FROM {}", table.name);
        let on_bigquery = run_json(&bigquery, &["query", &sql]);
        let on_duckdb = run_json(&duckdb, &["query", &sql]);
        assert!(
            !comparable(&on_duckdb).is_empty(),
            "{} has rows on DuckDB",
            table.name
        );
        assert_eq!(
            comparable(&on_bigquery),
            comparable(&on_duckdb),
            "{} differs between BigQuery and DuckDB",
            table.name
        );
        compared += 1;
    }
    assert_eq!(compared, 17);
}

#[test]
fn unit_tests_run_on_bigquery_with_literal_rows_in_its_dialect() {
    let id = "unittests";
    let p = TestProject::new();
    p.write("derived.yml", &emulator().config(id));
    p.write("tables/raw/events.yml", EVENTS);
    let table = |expected_kind: &str| {
        format!(
            "name: core.kinds
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {{name: day, type: DATE}}
  - {{name: kind, type: STRING}}
  - {{name: users, type: INT64}}
  - {{name: first_at, type: TIMESTAMP}}
sql: |
  SELECT DATE(ts) AS day, kind, COUNT(DISTINCT user_id) AS users, MIN(ts) AS first_at
  FROM raw.events
  WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}}
  GROUP BY day, kind
tests:
  - name: distinct_users_per_kind
    interval: 2024-01-02
    given:
      raw.events:
        - {{ts: \"2024-01-02 10:00:00\", user_id: 1, kind: \"it's\"}}
        - {{ts: \"2024-01-02 09:00:00\", user_id: 1, kind: \"it's\"}}
        - {{ts: \"2024-01-02 11:00:00\", user_id: 2, kind: 'back\\slash'}}
        - {{ts: \"2024-01-03 11:00:00\", user_id: 3, kind: text}}
    expect:
      - {{day: 2024-01-02, kind: \"{expected_kind}\", users: 1, first_at: \"2024-01-02 09:00:00\"}}
      - {{day: 2024-01-02, kind: 'back\\slash', users: 1, first_at: \"2024-01-02T11:00:00Z\"}}
"
        )
    };
    p.write("tables/core/kinds.yml", &table("it's"));
    let out = p.cli(&["--format", "json", "test"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["tests"][0]["status"], "passed");

    p.write("tables/core/kinds.yml", &table("its"));
    let out = p.cli(&["--format", "json", "test"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = out.json();
    assert_eq!(report["tests"][0]["status"], "failed");
    assert_eq!(report["tests"][0]["missing"][0]["kind"], "its");
    assert_eq!(report["tests"][0]["unexpected"][0]["kind"], "it's");
    let datasets = emulator().sql(
        id,
        "SELECT schema_name FROM `region-us`.INFORMATION_SCHEMA.SCHEMATA",
    );
    assert!(
        datasets.iter().all(|d| d["schema_name"] != "core"),
        "a test creates nothing: {datasets:?}"
    );
}
