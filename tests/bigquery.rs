//! Contract tests of the BigQuery warehouse: the CLI runs against a local server
//! that speaks BigQuery's REST API, and every call it makes is asserted.
//!
//! The live suite at the end runs the BigQuery example on a real project; it is
//! ignored unless asked for (see the README).

mod common;
#[path = "common/fake_bigquery.rs"]
mod fake_bigquery;

use common::TestProject;
use fake_bigquery::FakeBigQuery;
use sqlparser::dialect::BigQueryDialect;
use sqlparser::parser::Parser;

const NOW: &str = "2024-01-03T01:00:00Z";

fn config(fake: &FakeBigQuery) -> String {
    format!(
        "warehouse: {{type: bigquery, project: derived-example, location: US, endpoint: '{}'}}\n",
        fake.url
    )
}

/// raw.events → core.daily (append) and core.firsts (merge) → mart.summary (replace).
fn three_tables(fake: &FakeBigQuery) -> TestProject {
    let p = TestProject::new();
    p.write("derived.yml", &config(fake));
    p.write(
        "tables/raw/events.yml",
        "name: raw.events
kind: source
time_column: ts
freshness: {method: max_time, lag: 1h}
",
    );
    p.write(
        "tables/core/daily.yml",
        "name: core.daily
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {name: events, type: INT64}
sql: |
  SELECT TIMESTAMP_TRUNC(ts, DAY) AS day, COUNT(*) AS events
  FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY day
",
    );
    p.write(
        "tables/core/firsts.yml",
        "name: core.firsts
schedule: daily
strategy: merge
unique_key: [user_id]
time_column: last_seen
start: 2024-01-01
merge: {first_seen: min, last_seen: max, events: sum}
sql: |
  SELECT user_id, MIN(ts) AS first_seen, MAX(ts) AS last_seen, COUNT(*) AS events
  FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY user_id
",
    );
    p.write(
        "tables/mart/summary.yml",
        "name: mart.summary
schedule: daily
strategy: replace
start: 2024-01-01
sql: |
  SELECT
    (SELECT SUM(events) FROM core.daily) AS events,
    (SELECT COUNT(*) FROM core.firsts) AS users
",
    );
    fake.set_schema("core.daily", &[("day", "TIMESTAMP"), ("events", "INTEGER")]);
    fake.set_schema(
        "core.firsts",
        &[
            ("user_id", "INTEGER"),
            ("first_seen", "TIMESTAMP"),
            ("last_seen", "TIMESTAMP"),
            ("events", "INTEGER"),
        ],
    );
    fake.set_schema(
        "mart.summary",
        &[("events", "INTEGER"), ("users", "INTEGER")],
    );
    p
}

/// Every job's SQL, with the run's own values, as one reviewable text: the
/// jobs of each table in the order sent, tables in name order.
fn job_script(fake: &FakeBigQuery) -> String {
    let mut jobs = fake.jobs();
    jobs.sort_by_key(|j| j.labels.get("derived_table").cloned());
    jobs.iter()
        .map(|j| {
            let labels: Vec<String> = j.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("-- [{}]\n{}", labels.join(" "), j.sql)
        })
        .collect::<Vec<_>>()
        .join(";\n\n")
}

fn parses_as_bigquery(sql: &str) {
    Parser::parse_sql(&BigQueryDialect {}, sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

#[test]
fn create_of_a_three_table_dag_makes_the_expected_calls() {
    let fake = FakeBigQuery::start("2024-01-03T01:00:00Z");
    let p = three_tables(&fake);
    let out = p.cli(&["--now", NOW, "--format", "json", "run", "--threads", "1"]);
    let report = out.json();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(report["failed"], 0);
    let mut tables: Vec<&str> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["table"].as_str().unwrap())
        .collect();
    tables.sort();
    assert_eq!(tables, ["core.daily", "core.firsts", "mart.summary"]);

    insta::assert_snapshot!("three_table_create_jobs", job_script(&fake));
    let state = fake.state();
    // Every write published and cleaned up after itself.
    assert_eq!(
        state.tables.keys().collect::<Vec<_>>(),
        ["core.daily", "core.firsts", "mart.summary"]
    );
    assert_eq!(
        state.datasets.iter().collect::<Vec<_>>(),
        ["_derived", "core", "mart"]
    );
    assert_eq!(state.commits.len(), 3, "one commit record per run");
    for job in &state.jobs {
        parses_as_bigquery(&job.sql);
        if job.labels.contains_key("derived_run_id") {
            assert_eq!(job.labels["derived_env"], "prod");
            assert!(
                job.labels["derived_table"].contains('-'),
                "{:?}",
                job.labels
            );
        }
    }
    // Scripts answered RUNNING and were polled to DONE; stages were read with tables.get.
    let polls = state
        .calls
        .iter()
        .filter(|c| c.method == "GET" && c.path.contains("/jobs/"))
        .count();
    assert_eq!(
        polls, 2,
        "the append and merge transactions are polled once each"
    );
    assert!(state
        .calls
        .iter()
        .any(|c| c.method == "GET" && c.path.contains("/tables/daily__derived_stage_")));
    drop(state);

    let log = p.log(None);
    assert!(log.iter().all(|r| r["status"] == "success"), "{log:?}");
    let merge = log
        .iter()
        .find(|r| r["table_name"] == "core.firsts")
        .unwrap();
    assert!(
        merge["bytes_processed"].as_i64().unwrap() >= 1_048_576,
        "{merge}"
    );
    assert!(merge["slot_ms"].as_i64().unwrap() >= 250, "{merge}");
}

#[test]
fn a_failing_job_names_the_table_and_position_and_leaves_the_table_untouched() {
    let fake = FakeBigQuery::start("2024-01-03T01:00:00Z");
    let p = three_tables(&fake);
    assert_eq!(p.cli(&["--now", NOW, "run"]).code, 0);
    let before = fake.state().tables["mart.summary"].clone();

    p.write(
        "tables/mart/summary.yml",
        "name: mart.summary
schedule: daily
strategy: replace
start: 2024-01-01
sql: |
  SELECT
    (SELECT SUM(events) FROM core.daily) AS events,
    bogus AS users
",
    );
    fake.fail_when("bogus", "Unrecognized name: bogus at [5:5]");
    let out = p.cli(&["--now", NOW, "--format", "json", "run"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let run = &out.json()["runs"][0];
    assert_eq!(run["table"], "mart.summary");
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("for mart.summary failed (invalidQuery): Unrecognized name: bogus at [5:5]"),
        "{error}"
    );
    assert!(
        error.contains("at line 3, column 5 of the SQL of mart.summary: bogus AS users"),
        "{error}"
    );

    let state = fake.state();
    let after = &state.tables["mart.summary"];
    assert_eq!(
        after.written_by, before.written_by,
        "the table was not touched"
    );
    assert!(
        !state.tables.keys().any(|t| t.contains("__derived_")),
        "no stage is left behind: {:?}",
        state.tables.keys()
    );
    drop(state);
    let failed = &p.log(Some("mart.summary"))[0];
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("bogus"));
}

#[test]
fn a_job_past_the_timeout_is_cancelled_and_the_table_keeps_its_data() {
    let fake = FakeBigQuery::start("2024-01-03T01:00:00Z");
    let p = three_tables(&fake);
    assert_eq!(p.cli(&["--now", NOW, "run"]).code, 0);
    let before = fake.state().tables["mart.summary"].clone();
    p.write(
        "derived.yml",
        &format!("{}defaults: {{timeout: 1s}}\n", config(&fake)),
    );
    p.write(
        "tables/mart/summary.yml",
        "name: mart.summary
schedule: daily
strategy: replace
start: 2024-01-01
sql: SELECT (SELECT SUM(events) FROM core.daily) AS events, 'slow' AS kind
",
    );
    fake.hang_when("'slow' AS kind");
    let started = std::time::Instant::now();
    let out = p.cli(&["--now", NOW, "--format", "json", "run"]);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    assert_eq!(out.code, 1, "{}", out.stdout);
    let error = out.json()["runs"][0]["error"].as_str().unwrap().to_string();
    assert!(error.starts_with("timeout:"), "{error}");
    let state = fake.state();
    let hung = state
        .jobs
        .iter()
        .find(|j| j.sql.contains("'slow' AS kind"))
        .unwrap();
    assert_eq!(
        state.cancelled,
        std::slice::from_ref(&hung.id),
        "jobs.cancel was called for it"
    );
    assert_eq!(state.tables["mart.summary"].written_by, before.written_by);
}

#[test]
fn query_results_are_read_page_by_page() {
    let fake = FakeBigQuery::start("2024-01-03T01:00:00Z");
    let p = three_tables(&fake);
    let out = p.cli(&["--format", "json", "query", "SELECT n, at FROM paged"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let result = out.json();
    assert_eq!(result["columns"], serde_json::json!(["n", "at"]));
    let rows = result["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[5], serde_json::json!([5, "2024-01-01T05:00:00Z"]));
    let pages: Vec<String> = fake
        .calls()
        .iter()
        .filter(|c| c.path.contains("/queries/"))
        .map(|c| c.query.clone())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[1].contains("pageToken=p1") && pages[2].contains("pageToken=p2"));
}

#[test]
fn validate_dry_run_reports_bytes_and_errors_per_table() {
    let fake = FakeBigQuery::start("2024-01-03T01:00:00Z");
    let p = three_tables(&fake);
    let out = p.cli(&["--now", NOW, "--format", "json", "validate", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let dry = out.json()["dry_run"].as_array().unwrap().clone();
    assert_eq!(dry.len(), 3);
    assert!(dry
        .iter()
        .all(|d| d["bytes"].as_u64().unwrap() > 0 && d["error"].is_null()));
    let jobs = fake.jobs();
    assert!(jobs.iter().all(|j| j.dry_run));
    let daily = jobs
        .iter()
        .find(|j| j.sql.contains("TIMESTAMP_TRUNC(ts, DAY)"))
        .unwrap();
    assert!(
        daily.sql.contains(
            "ts >= TIMESTAMP '2024-01-02 00:00:00' AND ts < TIMESTAMP '2024-01-03 00:00:00'"
        ),
        "the latest complete interval, as BigQuery literals: {}",
        daily.sql
    );

    fake.fail_when(
        "COUNT(*) FROM core.firsts",
        "Not found: Table derived-example:core.firsts was not found in location US at [3:25]",
    );
    let out = p.cli(&["--now", NOW, "validate", "--dry-run"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("error: mart.summary: BigQuery rejected the job for mart.summary: Not found: Table derived-example:core.firsts"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("at line 3, column 25 of the SQL of mart.summary"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("core.daily: would scan"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("dry run: 3 table(s), 1 failed"),
        "{}",
        out.stdout
    );
}

/// The BigQuery variant of the example warehouse: every table is created
/// through the contract, every job is labelled and parses as BigQuery.
#[test]
fn the_bigquery_example_builds_through_the_contract() {
    let fake = FakeBigQuery::start("2024-02-05T00:00:00Z");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bigquery");
    let p = TestProject::new();
    common::copy_from_repo(&p, "examples/bigquery/tables", "tables");
    let config = std::fs::read_to_string(example.join("derived.yml")).unwrap();
    let config = config.replace(
        "location: US}",
        &format!("location: US, endpoint: '{}'}}", fake.url),
    );
    assert!(
        config.contains(&fake.url),
        "derived.yml names the warehouse on one line"
    );
    p.write("derived.yml", &config);

    let project = derived::project::load(p.root());
    assert!(!project.has_errors());
    for table in project.tables() {
        let mut columns: Vec<(String, String)> = table
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.data_type.clone().unwrap_or("STRING".into()),
                )
            })
            .collect();
        for needed in table.time_column.iter().chain(&table.unique_key) {
            if !columns.iter().any(|(c, _)| c == needed) {
                columns.push((needed.clone(), "STRING".into()));
            }
        }
        let columns: Vec<(&str, &str)> = columns
            .iter()
            .map(|(c, t)| (c.as_str(), t.as_str()))
            .collect();
        fake.set_schema(&table.name.to_string(), &columns);
    }

    let out = p.cli(&["--now", "2024-02-05T02:00:00Z", "--format", "json", "run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let report = out.json();
    assert_eq!(report["failed"], 0);
    let built: std::collections::BTreeSet<&str> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        built.len(),
        project.tables().count(),
        "every table was created"
    );

    let state = fake.state();
    for table in project.tables() {
        assert!(
            state.tables.contains_key(&table.name.to_string()),
            "{}",
            table.name
        );
    }
    for job in &state.jobs {
        parses_as_bigquery(&job.sql);
        if let Some(run_id) = job.labels.get("derived_run_id") {
            assert!(run_id.parse::<i64>().is_ok());
            assert_eq!(job.labels["derived_env"], "prod");
            assert!(job.labels.contains_key("derived_table"));
        }
    }
    assert!(!state.tables.keys().any(|t| t.contains("__derived_")));
}

/// Runs the BigQuery example on a real project: set `DERIVED_BQ_PROJECT` (and
/// credentials: `GOOGLE_APPLICATION_CREDENTIALS` or `DERIVED_BQ_ACCESS_TOKEN`),
/// load the sources as the README says, then
/// `cargo test --release --test bigquery -- --ignored`.
#[test]
#[ignore = "needs a BigQuery project: DERIVED_BQ_PROJECT and credentials"]
fn live_bigquery_builds_the_example() {
    let project_id = std::env::var("DERIVED_BQ_PROJECT").expect("DERIVED_BQ_PROJECT");
    let p = TestProject::new();
    common::copy_from_repo(&p, "examples/bigquery", "");
    let config = std::fs::read_to_string(p.root().join("derived.yml")).unwrap();
    p.write(
        "derived.yml",
        &config.replace(
            "project: derived-example",
            &format!("project: {project_id}"),
        ),
    );
    let env = format!("live_{}", std::process::id());
    let out = p.cli(&[
        "--env",
        &env,
        "--now",
        "2024-02-05T02:00:00Z",
        "--format",
        "json",
        "run",
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let sql = format!("SELECT COUNT(*) AS n FROM {env}__core.dim_users");
    let out = p.cli(&["--env", &env, "--format", "json", "query", &sql]);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn plan_shows_dry_run_bytes_and_max_bytes_refuses_an_over_budget_plan() {
    let fake = FakeBigQuery::start("2024-01-03T01:00:00Z");
    let p = three_tables(&fake);
    let planned = p.cli(&["--now", NOW, "--format", "json", "plan"]);
    assert_eq!(planned.code, 0, "{}", planned.stdout);
    let planned = planned.json();
    let per_action: Vec<u64> = planned["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["impact"]["bytes"].as_u64().expect("bytes by dry run"))
        .collect();
    assert_eq!(per_action.len(), 3);
    assert!(per_action.iter().all(|b| *b > 0), "{planned:#}");
    let total = planned["impact"]["bytes"].as_u64().unwrap();
    assert_eq!(total, per_action.iter().sum::<u64>());
    let writes = |fake: &FakeBigQuery| {
        fake.jobs()
            .iter()
            .filter(|j| {
                !j.dry_run
                    && ["CREATE", "INSERT", "MERGE"]
                        .iter()
                        .any(|w| j.sql.contains(w))
            })
            .count()
    };
    assert_eq!(writes(&fake), 0, "plan writes nothing");

    let refused = p.cli(&["--now", NOW, "run", "--max-bytes", &(total - 1).to_string()]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stdout.starts_with("refused: the plan would read")
            && refused
                .stdout
                .contains(&format!("over --max-bytes {}", total - 1)),
        "{}",
        refused.stdout
    );
    assert_eq!(writes(&fake), 0, "nothing ran");
    assert!(p.log(None).is_empty(), "nothing was logged");

    let within = p.cli(&["--now", NOW, "run", "--max-bytes", &total.to_string()]);
    assert_eq!(within.code, 0, "{}", within.stdout);
    assert!(writes(&fake) > 0);
}
