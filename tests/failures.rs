//! Failures stay as small as they are (SPEC §10.2): a failed batch is split
//! until its failing intervals are known, `plan`, `run` and `status` agree on
//! what is failed and blocked, failed rewrites are retried, a run past its
//! timeout is cancelled, and a paused table holds its downstream.

mod common;

use common::TestProject;
use proptest::prelude::*;
use serde_json::Value;
use std::time::Instant;

const NOW: &str = "2024-01-11T00:00:00Z";

/// Ten days of events, one per hour, each with a payload of `1`.
fn ten_days() -> TestProject {
    let project = TestProject::new();
    project.write(
        "tables/raw/events.yml",
        "name: raw.events
kind: source
time_column: ts
freshness: {method: always}
columns:
  - {name: ts, type: TIMESTAMP}
  - {name: user_id, type: BIGINT}
  - {name: payload, type: VARCHAR}
",
    );
    project.sql(
        "CREATE SCHEMA raw;
         CREATE TABLE raw.events AS
         SELECT h + INTERVAL 10 MINUTE AS ts, 1::BIGINT AS user_id, '1' AS payload
         FROM range(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-11', INTERVAL 1 HOUR) AS t(h);",
    );
    project
}

/// A daily append table summing the payload (a payload that is no number
/// fails the cast for its day), and a table that copies it day by day.
fn daily_totals(strategy: &str) -> String {
    let rules = match strategy {
        "merge" => "unique_key: [day]\n",
        _ => "",
    };
    format!(
        "name: core.totals
schedule: daily
strategy: {strategy}
time_column: day
{rules}start: 2024-01-01
sql: |
  SELECT CAST(date_trunc('day', ts) AS TIMESTAMP) AS day, sum(CAST(payload AS INTEGER)) AS total
  FROM raw.events
  WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}}
  GROUP BY ALL
"
    )
}

const COPY: &str = "name: mart.copy
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: |
  SELECT day, total FROM core.totals WHERE day >= {{ start }} AND day < {{ end }}
";

/// The days a table holds, in order (none when nothing was ever written).
fn days(project: &TestProject, table: &str) -> Vec<String> {
    let (schema, name) = table.split_once('.').unwrap();
    let exists = format!(
        "SELECT * FROM duckdb_tables() WHERE schema_name = '{schema}' AND table_name = '{name}'"
    );
    if project.count(&exists) == 0 {
        return Vec::new();
    }
    project
        .rows(&format!("SELECT strftime(day, '%d') FROM {table}"))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn day_list(numbers: &[u32]) -> Vec<String> {
    numbers.iter().map(|d| format!("{d:02}")).collect()
}

fn runs_of(project: &TestProject, table: &str) -> Vec<Value> {
    let mut rows = project.log(Some(table));
    rows.reverse();
    rows.retain(|r| r["action"] != "export");
    rows
}

#[test]
fn a_bad_day_in_a_ten_day_batch_lands_the_other_nine_once_and_the_downstream_up_to_it() {
    let project = ten_days();
    project
        .write("tables/core/totals.yml", &daily_totals("append"))
        .write("tables/mart/copy.yml", COPY);
    project
        .sql("UPDATE raw.events SET payload = 'oops' WHERE ts = TIMESTAMP '2024-01-06 05:10:00'");
    let run = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let clean = [1, 2, 3, 4, 5, 7, 8, 9, 10];
    assert_eq!(days(&project, "core.totals"), day_list(&clean));
    assert_eq!(days(&project, "mart.copy"), day_list(&[1, 2, 3, 4, 5]));

    let runs = runs_of(&project, "core.totals");
    let summary: Vec<(String, String, String)> = runs
        .iter()
        .map(|r| {
            (
                r["interval_start"].as_str().unwrap()[8..10].to_string(),
                r["interval_end"].as_str().unwrap()[8..10].to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("01", "11", "failed"),
        ("01", "06", "success"),
        ("06", "11", "failed"),
        ("06", "08", "failed"),
        ("08", "11", "success"),
        ("06", "07", "failed"),
        ("07", "08", "success"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(summary, expected);
    assert!(
        runs[0]["error"]
            .as_str()
            .unwrap()
            .contains("split in two to find the failing intervals"),
        "the log says why the batch was split: {}",
        runs[0]["error"]
    );
    assert!(runs[5]["error"]
        .as_str()
        .unwrap()
        .contains("Conversion Error"));

    // plan, status and a second run agree: day 6 is retried, the copy waits on it.
    let plan = project
        .cli(&["plan", "--now", NOW, "--format", "json"])
        .json();
    assert_eq!(plan["actions"].as_array().unwrap().len(), 1, "{plan:#}");
    assert_eq!(plan["actions"][0]["table"], "core.totals");
    assert_eq!(
        plan["actions"][0]["intervals"][0][0],
        "2024-01-06T00:00:00Z"
    );
    assert!(plan["actions"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("retry"));
    assert_eq!(
        plan["blocked"],
        serde_json::json!([{"table": "mart.copy", "waiting_for": ["core.totals"]}])
    );
    let status = project
        .cli(&["status", "--now", NOW, "--format", "json"])
        .json();
    let state = |name: &str| {
        status["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("core.totals"), "failed");
    assert_eq!(state("mart.copy"), "blocked");
    let again = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(again.code, 1);
    assert_eq!(
        again.json()["blocked"],
        plan["blocked"],
        "run blocks what plan blocks"
    );

    project.sql("UPDATE raw.events SET payload = '1' WHERE payload = 'oops'");
    let fixed = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    let all: Vec<u32> = (1..=10).collect();
    assert_eq!(days(&project, "core.totals"), day_list(&all));
    assert_eq!(
        days(&project, "mart.copy"),
        day_list(&all),
        "the retry's downstream ran in the same run"
    );
    assert_eq!(
        project.count("SELECT * FROM core.totals WHERE total <> 24"),
        0
    );
}

#[test]
fn a_rebuild_with_one_bad_day_swaps_in_the_others_and_retries_that_day() {
    let project = ten_days();
    project
        .write("tables/core/totals.yml", &daily_totals("append"))
        .write("tables/mart/copy.yml", COPY);
    assert_eq!(project.cli(&["run", "--now", NOW]).code, 0);
    project
        .sql("UPDATE raw.events SET payload = 'oops' WHERE ts = TIMESTAMP '2024-01-06 05:10:00'");
    let changed = daily_totals("append").replace("AS total", "AS total, 'v2' AS version");
    project.write("tables/core/totals.yml", &changed);

    let run = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        days(&project, "core.totals"),
        day_list(&[1, 2, 3, 4, 5, 7, 8, 9, 10]),
        "the rebuilt table holds every clean day"
    );
    assert_eq!(
        project.count("SELECT * FROM core.totals WHERE version = 'v2'"),
        9
    );
    let failed: Vec<Value> = runs_of(&project, "core.totals")
        .into_iter()
        .filter(|r| r["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["action"], "rebuild");
    assert_eq!(failed[0]["interval_start"], "2024-01-06T00:00:00Z");
    assert_eq!(failed[0]["interval_end"], "2024-01-07T00:00:00Z");
    let plan = project
        .cli(&["plan", "--now", NOW, "--format", "json"])
        .json();
    assert_eq!(plan["actions"][0]["table"], "core.totals");
    assert_eq!(plan["actions"][0]["action"], "backfill");
    assert_eq!(plan["blocked"][0]["table"], "mart.copy");

    project.sql("UPDATE raw.events SET payload = '1' WHERE payload = 'oops'");
    let fixed = project.cli(&["run", "--now", NOW]);
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    assert_eq!(
        project.count("SELECT * FROM core.totals WHERE version = 'v2'"),
        10
    );
    assert_eq!(days(&project, "mart.copy").len(), 10);
}

#[test]
fn a_check_that_fails_on_one_day_isolates_that_day() {
    let project = ten_days();
    project.write(
        "tables/core/users.yml",
        "name: core.daily_users
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
checks:
  - {unique: [day, user_id]}
sql: |
  SELECT DISTINCT CAST(date_trunc('day', ts) AS TIMESTAMP) AS day, user_id, payload
  FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
",
    );
    project.sql("UPDATE raw.events SET payload = '2' WHERE ts = TIMESTAMP '2024-01-06 05:10:00'");
    let run = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        days(&project, "core.daily_users"),
        day_list(&[1, 2, 3, 4, 5, 7, 8, 9, 10])
    );
    let failed: Vec<Value> = runs_of(&project, "core.daily_users")
        .into_iter()
        .filter(|r| r["status"] == "failed")
        .collect();
    let last = failed.last().unwrap();
    assert_eq!(last["interval_start"], "2024-01-06T00:00:00Z");
    assert_eq!(last["interval_end"], "2024-01-07T00:00:00Z");
    assert!(
        last["error"].as_str().unwrap().contains("unique"),
        "{last:#}"
    );
}

#[test]
fn a_sql_error_over_thirty_days_is_not_retried_interval_by_interval() {
    let project = ten_days();
    project.write(
        "tables/core/broken.yml",
        "name: core.broken
schedule: daily
strategy: append
time_column: day
start: 2023-12-12
sql: |
  SELECT CAST(date_trunc('day', ts) AS TIMESTAMP) AS day, count(no_such_column) AS n
  FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY ALL
",
    );
    let run = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 1);
    let runs = runs_of(&project, "core.broken");
    assert!(
        (1..=3).contains(&runs.len()),
        "{} attempts for a 30-day SQL error",
        runs.len()
    );
    let error = runs[0]["error"].as_str().unwrap();
    assert!(
        error.contains("Binder Error") && error.contains("not split"),
        "{error}"
    );
}

#[test]
fn a_run_past_its_timeout_is_cancelled_and_the_table_keeps_its_rows() {
    let project = ten_days();
    project.write(
        "tables/mart/heavy.yml",
        "name: mart.heavy
schedule: daily
start: 2024-01-01
timeout: 2s
sql: |
  SELECT {{ end_date }} AS as_of,
         (SELECT coalesce(sum(a.range * b.range), 0) FROM range(300000) a, range(300000) b
          WHERE {{ end }} > TIMESTAMP '2024-01-05 00:00:00') AS heavy
",
    );
    let first = project.cli(&["run", "--now", "2024-01-05T00:00:00Z"]);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let started = Instant::now();
    let slow = project.cli(&["run", "--now", "2024-01-07T00:00:00Z", "--format", "json"]);
    let took = started.elapsed();
    assert_eq!(slow.code, 1, "{}", slow.stdout);
    assert!(took.as_secs() < 15, "cancelled after {took:?}");
    let error = slow.json()["runs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.starts_with("timeout:"), "{error}");
    assert_eq!(
        project.rows("SELECT CAST(as_of AS VARCHAR), heavy FROM mart.heavy"),
        [["2024-01-05".to_string(), "0".to_string()]]
    );
    let log = runs_of(&project, "mart.heavy");
    assert_eq!(log.last().unwrap()["status"], "failed");
}

#[test]
fn a_paused_table_and_its_downstream_wait_until_resumed() {
    let project = ten_days();
    project
        .write("tables/core/totals.yml", &daily_totals("append"))
        .write("tables/mart/copy.yml", COPY);
    let paused = project.cli(&[
        "pause",
        "core.totals",
        "--reason",
        "raw.events is being reloaded",
    ]);
    assert_eq!(paused.code, 0, "{}", paused.stdout);
    let again = project.cli(&["pause", "core.totals"]);
    assert_eq!(again.code, 2, "pausing twice says so: {}", again.stdout);
    assert!(again.stdout.contains("already paused"), "{}", again.stdout);

    let plan = project
        .cli(&["plan", "--now", NOW, "--format", "json"])
        .json();
    assert_eq!(plan["actions"], serde_json::json!([]));
    assert_eq!(
        plan["blocked"],
        serde_json::json!([
            {"table": "core.totals", "waiting_for": ["core.totals"]},
            {"table": "mart.copy", "waiting_for": ["core.totals"]}
        ])
    );
    let run = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.json()["runs"], serde_json::json!([]));
    assert_eq!(run.json()["blocked"], plan["blocked"]);
    let status = project
        .cli(&["status", "--now", NOW, "--format", "json"])
        .json();
    let states: Vec<(String, String)> = status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().into(),
                t["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("core.totals".to_string(), "paused".to_string()),
            ("mart.copy".to_string(), "blocked".to_string())
        ]
    );
    let log = project.log(Some("core.totals"));
    assert_eq!(log[0]["action"], "pause");
    assert_eq!(log[0]["note"], "raw.events is being reloaded");
    assert!(log[0]["triggered_by"]
        .as_str()
        .is_some_and(|by| !by.is_empty()));

    let resumed = project.cli(&["resume", "core.totals"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stdout);
    assert_eq!(project.log(Some("core.totals"))[0]["action"], "resume");
    let run = project.cli(&["run", "--now", NOW]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(days(&project, "mart.copy").len(), 10);
}

#[test]
fn a_failed_backfill_is_retried_by_the_next_runs_until_it_succeeds() {
    let project = ten_days();
    project
        .write("tables/core/totals.yml", &daily_totals("append"))
        .write("tables/mart/copy.yml", COPY);
    assert_eq!(project.cli(&["run", "--now", NOW]).code, 0);
    project
        .sql("UPDATE raw.events SET payload = 'oops' WHERE ts = TIMESTAMP '2024-01-03 05:10:00'");
    let backfill = project.cli(&[
        "backfill",
        "core.totals",
        "--from",
        "2024-01-03",
        "--to",
        "2024-01-04",
        "--downstream",
        "--now",
        NOW,
    ]);
    assert_eq!(backfill.code, 1, "{}", backfill.stdout);
    let plan = project
        .cli(&["plan", "--now", NOW, "--format", "json"])
        .json();
    assert_eq!(plan["actions"][0]["action"], "backfill", "{plan:#}");
    assert_eq!(
        plan["actions"][0]["intervals"][0][0],
        "2024-01-03T00:00:00Z"
    );
    assert_eq!(plan["blocked"][0]["table"], "mart.copy");
    assert_eq!(project.cli(&["run", "--now", NOW]).code, 1, "still failing");

    project.sql("UPDATE raw.events SET payload = '2' WHERE payload = 'oops'");
    let run = project.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let actions: Vec<(String, String)> = run.json()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().into(),
                r["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("core.totals".to_string(), "backfill".to_string()),
            ("mart.copy".to_string(), "repair".to_string())
        ]
    );
    assert_eq!(
        project.rows("SELECT total FROM mart.copy WHERE day = TIMESTAMP '2024-01-03'"),
        [["25".to_string()]]
    );
    let status = project
        .cli(&["status", "--now", NOW, "--format", "json"])
        .json();
    assert!(
        status["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "fresh"),
        "{status:#}"
    );
}

fn failing_days_project(strategy: &str, bad: &[u32]) -> TestProject {
    let project = ten_days();
    project.write("tables/core/totals.yml", &daily_totals(strategy));
    for day in bad {
        project.sql(&format!(
            "UPDATE raw.events SET payload = 'bad' WHERE ts = TIMESTAMP '2024-01-{day:02} 03:10:00'"
        ));
    }
    project
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever days fail, an append create lands every other day exactly
    /// once, and a merge create exactly the days before the first failure;
    /// a rebuild of the changed definition lands exactly the same days.
    #[test]
    fn exactly_the_clean_intervals_land_once(bad in proptest::collection::btree_set(1u32..=10, 0..4)) {
        let bad: Vec<u32> = bad.into_iter().collect();
        let clean: Vec<u32> = (1..=10).filter(|d| !bad.contains(d)).collect();
        let first_bad = bad.first().copied().unwrap_or(11);
        let prefix: Vec<u32> = (1..first_bad).collect();
        for (strategy, expected) in [("append", &clean), ("merge", &prefix)] {
            let project = failing_days_project(strategy, &bad);
            project.cli(&["run", "--now", NOW]);
            prop_assert_eq!(&days(&project, "core.totals"), &day_list(expected), "create, {}", strategy);
            let changed = daily_totals(strategy).replace("AS total", "AS total, 2 AS version");
            project.write("tables/core/totals.yml", &changed);
            project.cli(&["run", "--now", NOW]);
            if !expected.is_empty() {
                prop_assert_eq!(&days(&project, "core.totals"), &day_list(expected), "rebuild, {}", strategy);
                prop_assert_eq!(project.count("SELECT * FROM core.totals WHERE total <> 24 OR version <> 2"), 0);
            }
        }
    }
}
