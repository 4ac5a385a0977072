//! End-to-end: `derived test` runs a table's SQL on fixture rows (SPEC §10.4)
//! and compares its output with the expected rows; nothing is written.

mod common;

use common::*;
use serde_json::{json, Value};

const EVENTS: &str = "name: raw.events
kind: source
time_column: ts
freshness: {method: marks}
columns:
  - {name: ts, type: TIMESTAMP}
  - {name: user_id, type: BIGINT}
  - {name: kind, type: VARCHAR}
";

/// Text messages per user and day; `expect` is the test block's expected rows.
fn daily_text(expect: &str) -> String {
    format!(
        "name: core.daily_text
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {{name: day, type: DATE}}
  - {{name: user_id, type: BIGINT}}
  - {{name: messages, type: BIGINT}}
sql: |
  SELECT CAST(ts AS DATE) AS day, user_id, count(*) AS messages
  FROM raw.events
  WHERE kind = 'text' AND ts >= {{{{ start }}}} AND ts < {{{{ end }}}}
  GROUP BY ALL
tests:
  - name: counts_only_text_messages
    interval: 2024-01-02
    given:
      raw.events:
        - {{ts: \"2024-01-02 10:00:00\", user_id: 1, kind: text}}
        - {{ts: \"2024-01-02 11:00:00\", user_id: 1, kind: voice}}
        - {{ts: \"2024-01-02 12:00:00\", user_id: 1, kind: text}}
        - {{ts: \"2024-01-02 13:00:00\", user_id: 2, kind: text}}
        - {{ts: \"2024-01-03 00:00:00\", user_id: 3, kind: text}}
    expect:
{expect}"
    )
}

const RIGHT: &str = "      - {day: 2024-01-02, user_id: 1, messages: 2}
      - {day: 2024-01-02, user_id: 2, messages: 1}
";

fn project(expect: &str) -> TestProject {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS);
    p.write("tables/core/daily_text.yml", &daily_text(expect));
    p
}

fn test_json(p: &TestProject, args: &[&str]) -> (u8, Value) {
    let mut all = vec!["test", "--format", "json"];
    all.extend_from_slice(args);
    let out = p.cli(&all);
    (out.code, out.json())
}

#[test]
fn a_passing_test_exits_0_and_writes_nothing() {
    let p = project(RIGHT);
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["passed"], 1);
    let test = &report["tests"][0];
    assert_eq!(test["table"], "core.daily_text");
    assert_eq!(test["test"], "counts_only_text_messages");
    assert_eq!(test["status"], "passed");
    assert_eq!(test["file"], "tables/core/daily_text.yml");
    assert_eq!(test["line"], 16);
    assert!(!p.warehouse_path().exists(), "no warehouse file is created");
    assert!(
        !p.root().join(".derived/metadata.duckdb").exists(),
        "nothing is logged"
    );
    let text = p.cli(&["test"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains(
            "pass  core.daily_text :: counts_only_text_messages  (tables/core/daily_text.yml:16)"
        ),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("1 test(s): 1 passed, 0 failed"));
}

#[test]
fn a_failing_test_shows_the_missing_and_unexpected_rows() {
    let p = project(
        "      - {day: 2024-01-02, user_id: 1, messages: 3}
      - {day: 2024-01-02, user_id: 2, messages: 1}
",
    );
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    let test = &report["tests"][0];
    assert_eq!(test["status"], "failed");
    assert_eq!(
        test["missing"],
        json!([{"day": "2024-01-02", "user_id": 1, "messages": 3}])
    );
    assert_eq!(
        test["unexpected"],
        json!([{"day": "2024-01-02", "user_id": 1, "messages": 2}])
    );
    let text = p.cli(&["test"]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout
            .contains("FAIL  core.daily_text :: counts_only_text_messages")
            && text.stdout.contains("missing (expected, not produced):")
            && text
                .stdout
                .contains(r#"{"day":"2024-01-02","messages":3,"user_id":1}"#)
            && text.stdout.contains("unexpected (produced, not expected):"),
        "{}",
        text.stdout
    );
}

#[test]
fn only_the_expected_columns_are_compared_in_any_order() {
    let p = project(
        "      - {user_id: 2}
      - {user_id: 1}
",
    );
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn validate_reports_every_test_problem_with_its_position() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS);
    p.write(
        "tables/core/daily_text.yml",
        &(daily_text(RIGHT).replace(
            "raw.events:\n        - {ts: \"2024-01-02 10:00:00\", user_id: 1",
            "raw.event:\n        - {ts: \"2024-01-02 10:00:00\", userid: 1",
        ) + "  - name: wrong_columns
    given:
      raw.events:
        - {ts: \"2024-01-02 10:00:00\", userid: 1}
    expect:
      - {day: 2024-01-02, users: 1}
  - name: bad_interval
    interval: 2024-01-02 10:00:00
    given: {raw.events: []}
    expect: []
"),
    );
    let out = p.cli(&["validate", "--format", "json"]);
    assert_eq!(out.code, 1);
    let errors: Vec<(String, u64, String)> = out.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["line"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (code, line, text) in [
        ("unknown-test-upstream", 19, "gives rows for `raw.event`"),
        ("missing-test-given", 18, "no rows for `raw.events`"),
        ("unknown-test-column", 30, "column `userid`"),
        ("unknown-test-column", 32, "column `users`"),
        ("invalid-test", 35, "does not start a daily interval"),
    ] {
        assert!(
            errors
                .iter()
                .any(|(c, l, m)| c == code && *l == line && m.contains(text)),
            "no {code} at line {line} saying {text:?}: {errors:#?}"
        );
    }
    let text = p.cli(&["validate"]).stdout;
    assert!(text.contains("did you mean `raw.events`?"), "{text}");
    assert!(text.contains("did you mean `user_id`?"), "{text}");
    let test = p.cli(&["test"]);
    assert_eq!(test.code, 2, "an invalid project runs no test");
}

#[test]
fn csv_fixtures_vars_and_the_interval_shape_the_run() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS);
    p.write("derived.yml", "vars: {kind: text}\n");
    p.write(
        "tables/core/fixtures/events.csv",
        "ts,user_id,kind\n2024-01-05 10:00:00,1,text\n2024-01-05 11:00:00,2,voice\n2024-01-06 00:00:00,3,text\n2024-01-05 12:00:00,,voice\n",
    );
    p.write(
        "tables/core/kinds.yml",
        "name: core.kinds
schedule: daily
start: 2024-01-01
strategy: append
time_column: day
sql: |
  SELECT CAST({{ interval_start }} AS DATE) AS day, count(*) AS events, count(user_id) AS known
  FROM raw.events
  WHERE kind = '{{ var(\"kind\") }}' AND ts >= {{ start }} AND ts < {{ end }}
tests:
  - name: text_by_default
    interval: 2024-01-05
    given:
      raw.events: {csv: fixtures/events.csv}
    expect:
      - {day: 2024-01-05, events: 1, known: 1}
  - name: voice_when_asked
    interval: 2024-01-05
    vars: {kind: voice}
    given:
      raw.events: {csv: fixtures/events.csv}
    expect:
      - {day: 2024-01-05, events: 2, known: 1}
  - name: nothing_on_another_day
    interval: 2024-01-07
    given:
      raw.events: {csv: fixtures/events.csv}
    expect:
      - {day: 2024-01-07, events: 0, known: 0}
",
    );
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["passed"], 3);

    p.write(
        "tables/core/fixtures/events.csv",
        "ts,user_id,kind\n2024-01-05 10:00:00,1,text\n2024-01-05 10:30:00,4,text\n",
    );
    let (code, report) = test_json(&p, &["core.kinds"]);
    assert_eq!(code, 1, "an edited fixture is read again: {report:#}");
    assert_eq!(
        report["tests"][0]["unexpected"],
        json!([{"day": "2024-01-05", "events": 2, "known": 2}])
    );

    p.write(
        "tables/core/kinds.yml",
        &std::fs::read_to_string(p.root().join("tables/core/kinds.yml"))
            .unwrap()
            .replace(
                "fixtures/events.csv}\n    expect:\n      - {day: 2024-01-05, events: 1",
                "fixtures/missing.csv}\n    expect:\n      - {day: 2024-01-05, events: 1",
            ),
    );
    let out = p.cli(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("cannot read the fixture `fixtures/missing.csv`"),
        "{}",
        out.stdout
    );
}

#[test]
fn sel_picks_the_tables_whose_tests_run() {
    let p = project(RIGHT);
    p.write(
        "tables/core/totals.yml",
        "name: core.totals
schedule: daily
start: 2024-01-01
sql: SELECT sum(messages) AS messages FROM core.daily_text
tests:
  - name: sums_every_day
    given:
      core.daily_text:
        - {day: 2024-01-01, user_id: 1, messages: 2}
        - {day: 2024-01-02, user_id: 1, messages: 5}
    expect:
      - {messages: 7}
  - name: no_rows_sum_to_null
    given: {core.daily_text: []}
    expect:
      - {messages: null}
",
    );
    let tests = |args: &[&str]| -> Vec<String> {
        let (code, report) = test_json(&p, args);
        assert_eq!(code, 0, "{report:#}");
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}::{}",
                    t["table"].as_str().unwrap(),
                    t["test"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        tests(&["core.totals"]),
        [
            "core.totals::sums_every_day",
            "core.totals::no_rows_sum_to_null"
        ]
    );
    assert_eq!(
        tests(&["core.daily_text"]),
        ["core.daily_text::counts_only_text_messages"]
    );
    assert_eq!(tests(&["+core.totals"]).len(), 3);
    assert_eq!(tests(&[]).len(), 3);
}

#[test]
fn a_query_error_is_reported_with_the_warehouse_message() {
    let p = project(RIGHT);
    p.write(
        "tables/core/daily_text.yml",
        &daily_text(RIGHT).replace(
            "count(*) AS messages",
            "count(*) / no_such_column AS messages",
        ),
    );
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 1);
    let test = &report["tests"][0];
    assert_eq!(test["status"], "error");
    assert!(
        test["error"].as_str().unwrap().contains("no_such_column"),
        "{test:#}"
    );
}

#[test]
fn a_table_reading_itself_sees_the_rows_given_for_it_or_none() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS);
    p.write(
        "tables/core/running.yml",
        "name: core.running
schedule: daily
start: 2024-01-01
strategy: append
time_column: day
columns:
  - {name: day, type: DATE}
  - {name: total, type: BIGINT}
sql: |
  SELECT CAST({{ interval_start }} AS DATE) AS day,
         (SELECT count(*) FROM raw.events WHERE ts >= {{ start }} AND ts < {{ end }})
         + COALESCE((SELECT max(total) FROM {{ this }}), 0) AS total
tests:
  - name: adds_to_the_previous_total
    interval: 2024-01-02
    given:
      raw.events:
        - {ts: \"2024-01-02 01:00:00\"}
      core.running:
        - {day: 2024-01-01, total: 10}
    expect:
      - {day: 2024-01-02, total: 11}
  - name: starts_from_zero
    interval: 2024-01-02
    given:
      raw.events:
        - {ts: \"2024-01-02 01:00:00\"}
    expect:
      - {day: 2024-01-02, total: 1}
",
    );
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["passed"], 2);
}

#[test]
fn the_example_warehouse_tests_pass() {
    let p = example_project();
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 0, "{report:#}");
    let tables: std::collections::BTreeSet<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(
        [
            "core.dim_users",
            "core.user_voice_firsts",
            "engagement.rolling_active_users"
        ]
        .iter()
        .all(|t| tables.contains(t)),
        "{tables:?}"
    );
}

#[test]
fn unit_tests_run_read_only_on_postgresql() {
    let db = pg::Database::new("unit_tests");
    let p = TestProject::new();
    p.write(
        "derived.yml",
        &format!("warehouse: {{type: postgres, url: '{}'}}\n", db.url()),
    );
    p.write("tables/raw/events.yml", EVENTS);
    let table = |expect: &str| daily_text(expect).replace("GROUP BY ALL", "GROUP BY 1, 2");
    p.write("tables/core/daily_text.yml", &table(RIGHT));
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["tests"][0]["status"], "passed");

    p.write(
        "tables/core/daily_text.yml",
        &table("      - {day: 2024-01-02, user_id: 2, messages: 2}\n"),
    );
    let (code, report) = test_json(&p, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        report["tests"][0]["missing"],
        json!([{"day": "2024-01-02", "user_id": 2, "messages": 2}])
    );
    assert_eq!(
        report["tests"][0]["unexpected"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name IN ('core', 'raw')"
        ),
        0,
        "a test creates nothing"
    );
}

#[test]
fn sql_only_duckdb_can_parse_still_gets_fixture_rows() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS);
    let table = |from: &str| {
        format!(
            "name: core.sampled
schedule: daily
start: 2024-01-01
sql: |
  SELECT count({from}.user_id) AS n FROM raw.events {alias}USING SAMPLE 100 PERCENT (bernoulli)
tests:
  - name: every_row_of_a_full_sample
    given:
      raw.events:
        - {{ts: \"2024-01-01 01:00:00\", user_id: 1}}
        - {{ts: \"2024-01-01 02:00:00\", user_id: 2}}
    expect:
      - {{n: 2}}
",
            alias = if from == "e" { "AS e " } else { "" }
        )
    };
    for from in ["events", "e"] {
        p.write("tables/core/sampled.yml", &table(from));
        let (code, report) = test_json(&p, &[]);
        assert_eq!(code, 0, "FROM raw.events read as {from}: {report:#}");
    }
}
