//! End-to-end: data checks run inside the write, before rows are published.

mod common;

use common::*;

const NOW: &str = "2024-01-03T00:00:00Z";

const USER_DAYS: &str = "name: core.user_days
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {name: day, type: DATE}
  - {name: user_id, type: BIGINT, checks: [not_null]}
checks:
  - {unique: [day, user_id]}
sql: |
  SELECT CAST(ts AS DATE) AS day, user_id FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
";

const USERS_PER_DAY: &str = "name: core.users_per_day
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: SELECT day, count(*) AS users FROM core.user_days WHERE day >= {{ start }} AND day < {{ end }} GROUP BY ALL
";

fn project(tables: &[(&str, &str)]) -> TestProject {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    for (path, yaml) in tables {
        p.write(path, yaml);
    }
    p.sql(
        "CREATE SCHEMA raw; CREATE TABLE raw.events (ts TIMESTAMP, user_id BIGINT, kind VARCHAR);
         INSERT INTO raw.events VALUES ('2024-01-01 10:00:00', 1, 'a'), ('2024-01-01 11:00:00', 2, 'a'),
                                       ('2024-01-02 10:00:00', 1, 'a'), ('2024-01-02 11:00:00', 3, 'b');",
    );
    p.cli(&[
        "source",
        "mark",
        "raw.events",
        "--through",
        NOW,
        "--now",
        NOW,
    ]);
    p
}

fn run(p: &TestProject) -> serde_json::Value {
    p.cli(&["run", "--now", NOW, "--format", "json"]).json()
}

#[test]
fn a_failing_unique_check_keeps_the_interval_as_it_was_and_blocks_downstream() {
    let p = project(&[
        ("tables/core/user_days.yml", USER_DAYS),
        ("tables/core/users_per_day.yml", USERS_PER_DAY),
    ]);
    assert_eq!(run(&p)["failed"], 0);
    let before = p.rows("SELECT * FROM core.user_days");
    p.sql("INSERT INTO raw.events VALUES ('2024-01-02 12:00:00', 3, 'late')");
    let backfill = p.cli(&[
        "backfill",
        "core.user_days",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-03",
        "--downstream",
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    assert_eq!(backfill.code, 1);
    let report = backfill.json();
    let error = report["runs"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("check unique(day, user_id) failed: 1 offending row(s)"),
        "{error}"
    );
    assert!(
        error.contains("\"user_id\":3"),
        "the sample row is named: {error}"
    );
    assert_eq!(report["blocked"][0]["table"], "core.users_per_day");
    assert_eq!(
        p.rows("SELECT * FROM core.user_days"),
        before,
        "the interval's rows are exactly as before"
    );

    let logged = &p.log(Some("core.user_days"))[0];
    assert_eq!(logged["status"], "failed");
    let check = logged["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "unique(day, user_id)")
        .unwrap();
    assert_eq!(check["failing_rows"], 1);
    assert_eq!(check["sample"][0]["user_id"], 3);
    let passed = logged["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "not_null(user_id)")
        .unwrap();
    assert_eq!(passed["failing_rows"], 0);
}

#[test]
fn a_replace_failing_not_null_keeps_the_previous_build() {
    let summary = "name: mart.latest
schedule: daily
strategy: replace
start: 2024-01-01
columns:
  - {name: kind, checks: [not_null]}
sql: SELECT CASE WHEN user_id = 4 THEN NULL ELSE kind END AS kind, count(*) AS n FROM raw.events WHERE ts < {{ end }} GROUP BY ALL
";
    let p = project(&[("tables/mart/latest.yml", summary)]);
    assert_eq!(run(&p)["failed"], 0);
    let before = p.rows("SELECT * FROM mart.latest");
    p.sql("INSERT INTO raw.events VALUES ('2024-01-03 10:00:00', 4, 'x')");
    let later = "2024-01-04T00:00:00Z";
    p.cli(&[
        "source",
        "mark",
        "raw.events",
        "--through",
        later,
        "--now",
        later,
    ]);
    let report = p.cli(&["run", "--now", later, "--format", "json"]);
    assert_eq!(report.code, 1);
    assert!(report.json()["runs"][0]["error"]
        .as_str()
        .unwrap()
        .contains("not_null(kind)"));
    assert_eq!(p.rows("SELECT * FROM mart.latest"), before);
}

#[test]
fn a_failing_warn_check_lets_the_run_succeed_and_shows_in_log_and_status() {
    let warned = USER_DAYS.replace(
        "  - {unique: [day, user_id]}",
        "  - {unique: [day, user_id]}\n  - {row_count: {min: 5}, severity: warn}",
    );
    let p = project(&[("tables/core/user_days.yml", &warned)]);
    let report = run(&p);
    assert_eq!(report["failed"], 0);
    assert!(report["runs"][0]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("check row_count failed"));
    let logged = &p.log(Some("core.user_days"))[0];
    assert_eq!(logged["status"], "success");
    assert!(logged["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "row_count" && c["severity"] == "warn" && c["failing_rows"] == 1));
    let status = p.cli(&["status", "--now", NOW, "--format", "json"]).json();
    assert_eq!(status["tables"][0]["state"], "fresh");
    assert_eq!(status["tables"][0]["failed_checks"][0], "row_count (warn)");
}

#[test]
fn relationship_and_sql_checks_catch_an_orphan_and_a_broken_rule() {
    let users = "name: core.users
schedule: daily
strategy: replace
start: 2024-01-01
sql: SELECT * FROM (VALUES (1), (2)) AS t(user_id)
";
    let activity = "name: core.activity
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {name: day}
  - {name: user_id, checks: [{relationship: {table: core.users, column: user_id}}]}
  - {name: events}
checks:
  - {sql: 'SELECT * FROM {{ rows }} WHERE events > 1', severity: warn}
sql: |
  SELECT CAST(ts AS DATE) AS day, user_id, count(*) AS events FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }} GROUP BY ALL
";
    let p = project(&[
        ("tables/core/users.yml", users),
        ("tables/core/activity.yml", activity),
    ]);
    let report = run(&p);
    assert_eq!(
        report["failed"], 2,
        "the two-day batch, then its failing day alone: {report}"
    );
    assert_eq!(
        p.count("SELECT * FROM core.activity"),
        2,
        "the clean day landed"
    );
    let failed = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == "core.activity")
        .unwrap();
    assert!(failed["error"]
        .as_str()
        .unwrap()
        .contains("relationship(user_id -> core.users.user_id)"));
    assert!(failed["error"].as_str().unwrap().contains("\"user_id\":3"));

    // Only the failed day runs again: give it a row the warn check reports.
    p.sql("INSERT INTO raw.events VALUES ('2024-01-02 12:00:00', 1, 'again'), ('2024-01-02 13:00:00', 1, 'again')");
    p.write(
        "tables/core/users.yml",
        &users.replace("(1), (2)", "(1), (2), (3)"),
    );
    let report = run(&p);
    assert_eq!(report["failed"], 0, "{report}");
    let warned = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == "core.activity")
        .unwrap();
    assert!(
        warned["warnings"][0].as_str().unwrap().contains("sql#1"),
        "{warned}"
    );
}

#[test]
fn check_command_runs_checks_on_current_data() {
    let p = project(&[("tables/core/user_days.yml", USER_DAYS)]);
    run(&p);
    let ok = p.cli(&["check", "--format", "json", "--now", NOW]);
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert_eq!(
        ok.json()["tables"][0]["checks"].as_array().unwrap().len(),
        2
    );
    p.sql("INSERT INTO core.user_days VALUES ('2024-01-01', 1)");
    let bad = p.cli(&["check", "--now", NOW]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout
            .contains("FAIL   unique(day, user_id): 1 offending row(s)"),
        "{}",
        bad.stdout
    );
}

#[test]
fn freshness_checks_turn_status_late() {
    let fresh = USER_DAYS.replace(
        "  - {unique: [day, user_id]}",
        "  - {unique: [day, user_id]}\n  - {freshness: {max_lag: 2h}}",
    );
    let p = project(&[("tables/core/user_days.yml", &fresh)]);
    run(&p);
    let on_time = p.cli(&[
        "status",
        "--check",
        "--now",
        "2024-01-03T01:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(
        (on_time.code, on_time.json()["tables"][0]["state"].clone()),
        (0, "fresh".into())
    );
    let late = p.cli(&[
        "status",
        "--check",
        "--now",
        "2024-01-03T05:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(
        (late.code, late.json()["tables"][0]["state"].clone()),
        (1, "late".into())
    );
}

#[test]
fn validate_reports_checks_on_unknown_columns_and_targets() {
    let bad = USER_DAYS
        .replace(
            "  - {unique: [day, user_id]}",
            "  - {unique: [day, usr_id]}\n  - {relationship_typo: {}}",
        )
        .replace(
            "checks: [not_null]",
            "checks: [not_null, {relationship: {table: core.nowhere, column: id}}]",
        );
    let p = project(&[("tables/core/user_days.yml", &bad)]);
    let out = p.cli(&["validate", "--format", "json"]).json();
    let codes: Vec<&str> = out["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"unknown-check-column"), "{out}");
    assert!(codes.contains(&"invalid-check"), "{out}");
    assert!(codes.contains(&"unknown-reference"), "{out}");
    let message = out["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "unknown-check-column")
        .unwrap()["help"]
        .clone();
    assert!(message.as_str().unwrap().contains("did you mean `user_id`"));
}
