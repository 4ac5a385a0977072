//! End-to-end: plan and run on real DuckDB files, checking table contents and the log.

mod common;

use common::*;

#[test]
fn daily_table_waits_for_all_24_hours_and_builds_in_the_same_run_as_the_last_hour() {
    let p = events_project();
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 3);
    p.mark("raw.events", "2024-01-01T23:00:00Z", "2024-01-02T06:00:00Z");
    let first = p.cli(&["run", "--now", "2024-01-02T06:00:00Z"]);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(p.count("SELECT * FROM hourly.counts"), 23);
    assert_eq!(
        p.count("SELECT * FROM information_schema.tables WHERE table_schema = 'daily'"),
        0
    );
    let plan = p
        .cli(&["plan", "--now", "2024-01-02T06:00:00Z", "--format", "json"])
        .json();
    assert_eq!(
        plan["actions"].as_array().unwrap().len(),
        0,
        "waiting for the 24th hour: {plan}"
    );

    p.mark("raw.events", "2024-01-02T00:00:00Z", "2024-01-02T06:00:00Z");
    let second = p
        .cli(&["run", "--now", "2024-01-02T06:00:00Z", "--format", "json"])
        .json();
    let tables: Vec<&str> = second["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        tables,
        ["hourly.counts", "daily.counts"],
        "the last hour and the day in one run"
    );
    assert_eq!(
        p.rows("SELECT CAST(day AS VARCHAR), events, hours FROM daily.counts"),
        [["2024-01-01", "72", "24"]]
    );
}

#[test]
fn a_second_run_at_the_same_now_does_nothing_and_changes_nothing() {
    let p = events_project();
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-03 00:00:00", 2);
    p.mark_and_run("raw.events", "2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z");
    let before = p.rows("SELECT * FROM daily.counts");
    let again = p
        .cli(&["run", "--now", "2024-01-03T00:00:00Z", "--format", "json"])
        .json();
    assert_eq!(again["runs"].as_array().unwrap().len(), 0);
    assert_eq!(p.rows("SELECT * FROM daily.counts"), before);
    assert_eq!(
        before,
        [["2024-01-01", "48", "24"], ["2024-01-02", "48", "24"]]
    );
}

#[test]
fn creates_are_batched_into_few_statements() {
    let p = events_project();
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-11 00:00:00", 1);
    p.mark("raw.events", "2024-01-11T00:00:00Z", "2024-01-11T00:00:00Z");
    let report = p
        .cli(&["run", "--now", "2024-01-11T00:00:00Z", "--format", "json"])
        .json();
    assert_eq!(report["succeeded"], 2, "one batch per table: {report}");
    assert_eq!(p.count("SELECT * FROM hourly.counts"), 240);
    let log = p.log(Some("hourly.counts"));
    assert_eq!(log[0]["interval_start"], "2024-01-01T00:00:00Z");
    assert_eq!(log[0]["interval_end"], "2024-01-11T00:00:00Z");
}

#[test]
fn an_append_row_outside_its_interval_fails_the_run_and_writes_nothing() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        "tables/daily/shifted.yml",
        "name: daily.shifted
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: SELECT CAST({{ end }} AS DATE) AS day, count(*) AS n FROM raw.events WHERE ts >= {{ start }} AND ts < {{ end }}
",
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 1);
    p.mark("raw.events", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z");
    let run = p.cli(&["run", "--now", "2024-01-02T00:00:00Z", "--format", "json"]);
    assert_eq!(run.code, 1);
    let error = run.json()["runs"][0]["error"].as_str().unwrap().to_string();
    assert!(error.contains("outside the interval"), "{error}");
    assert_eq!(
        p.count("SELECT * FROM information_schema.tables WHERE table_name = 'shifted'"),
        0
    );
}

#[test]
fn a_first_append_without_its_time_column_fails_and_creates_nothing_until_fixed() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    let table = |day: &str| {
        format!(
            "name: daily.counts
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: SELECT CAST(date_trunc('day', ts) AS DATE) AS {day}, count(*) AS n FROM raw.events WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}} GROUP BY 1
"
        )
    };
    p.write("tables/daily/counts.yml", &table("day_typo"));
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-03 00:00:00", 1);
    p.mark("raw.events", "2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z");
    let run = p.cli(&["run", "--now", "2024-01-03T00:00:00Z", "--format", "json"]);
    assert_eq!(run.code, 1);
    let error = run.json()["runs"][0]["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("`day` is not among the query's output columns (day_typo, n)"),
        "{error}"
    );
    assert_eq!(
        p.count("SELECT * FROM information_schema.tables WHERE table_name = 'counts'"),
        0
    );
    assert_eq!(p.log(Some("daily.counts"))[0]["status"], "failed");

    p.write("tables/daily/counts.yml", &table("day"));
    let run = p.cli(&["run", "--now", "2024-01-03T00:00:00Z", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        p.rows("SELECT CAST(day AS VARCHAR), n FROM daily.counts ORDER BY day"),
        [["2024-01-01", "24"], ["2024-01-02", "24"]]
    );
}

const FIRSTS: &str = "name: core.voice_firsts
schedule: daily
strategy: merge
time_column: last_at
start: 2024-01-01
unique_key: [user_id]
merge: {first_at: min, last_at: max, sessions: sum, first_kind: keep, last_kind: overwrite}
columns:
  - {name: user_id, type: BIGINT}
  - {name: first_at, type: TIMESTAMP}
  - {name: last_at, type: TIMESTAMP}
  - {name: sessions, type: BIGINT}
sql: |
  SELECT user_id, min(ts) AS first_at, max(ts) AS last_at, count(*) AS sessions,
         arg_min(kind, ts) AS first_kind, arg_max(kind, ts) AS last_kind
  FROM raw.events
  WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY user_id
";

#[test]
fn merge_rules_keep_first_and_last_voice_times_across_intervals_and_reruns() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write("tables/core/voice_firsts.yml", FIRSTS);
    p.sql(
        "CREATE SCHEMA raw; CREATE TABLE raw.events (ts TIMESTAMP, user_id BIGINT, kind VARCHAR);
         INSERT INTO raw.events VALUES
           ('2024-01-01 10:00:00', 1, 'a'), ('2024-01-01 12:00:00', 1, 'b'),
           ('2024-01-02 09:00:00', 1, 'c'), ('2024-01-02 11:00:00', 2, 'x'),
           ('2024-01-03 08:00:00', 2, 'y'), ('2024-01-03 23:00:00', 1, 'd');",
    );
    p.mark_and_run("raw.events", "2024-01-02T00:00:00Z", "2024-01-04T00:00:00Z");
    p.mark_and_run("raw.events", "2024-01-04T00:00:00Z", "2024-01-04T00:00:00Z");
    assert_eq!(
        p.cli(&["run", "--now", "2024-01-04T00:00:00Z", "--format", "json"])
            .json()["runs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let expected = [
        [
            "1",
            "2024-01-01T10:00:00Z",
            "2024-01-03T23:00:00Z",
            "4",
            "a",
            "d",
        ],
        [
            "2",
            "2024-01-02T11:00:00Z",
            "2024-01-03T08:00:00Z",
            "2",
            "x",
            "y",
        ],
    ];
    assert_eq!(p.rows("SELECT user_id, first_at, last_at, sessions, first_kind, last_kind FROM core.voice_firsts"), expected);
    let applied: Vec<_> = p
        .log(Some("core.voice_firsts"))
        .iter()
        .map(|r| (r["interval_start"].clone(), r["status"].clone()))
        .collect();
    assert_eq!(applied.len(), 2, "each interval applied once: {applied:?}");
}

const EXPLODING_REPLACE: &str = "name: mart.summary
schedule: daily
strategy: replace
start: 2024-01-01
sql: |
  SELECT CASE WHEN max(user_id) > 5 THEN error('too many users') ELSE count(*) END AS events
  FROM raw.events WHERE ts < {{ end }}
";

#[test]
fn a_failing_table_blocks_only_its_downstream_and_keeps_its_previous_data() {
    let p = events_project();
    p.write("tables/mart/summary.yml", EXPLODING_REPLACE);
    p.write(
        "tables/mart/after_summary.yml",
        "name: mart.after_summary\nschedule: daily\nstart: 2024-01-01\nsql: SELECT events * 2 AS doubled FROM mart.summary\n",
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 2);
    p.mark_and_run("raw.events", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z");
    assert_eq!(p.rows("SELECT * FROM mart.summary"), [["48"]]);

    insert_events(&p, "2024-01-02 00:00:00", "2024-01-03 00:00:00", 9);
    p.mark("raw.events", "2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z");
    let run = p.cli(&["run", "--now", "2024-01-03T00:00:00Z", "--format", "json"]);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["failed"], 1);
    assert_eq!(report["blocked"][0]["table"], "mart.after_summary");
    assert_eq!(report["blocked"][0]["waiting_for"][0], "mart.summary");
    assert_eq!(
        p.rows("SELECT * FROM mart.summary"),
        [["48"]],
        "the failed replace left the old table"
    );
    assert_eq!(
        p.rows("SELECT day, events FROM daily.counts WHERE day = DATE '2024-01-02'"),
        [["2024-01-02", "216"]]
    );

    let failed = &p.log(Some("mart.summary"))[0];
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("too many users"));
    assert!(failed["sql"]
        .as_str()
        .unwrap()
        .contains("TIMESTAMP '2024-01-03 00:00:00'"));

    let status = p
        .cli(&[
            "status",
            "--now",
            "2024-01-03T00:00:00Z",
            "--format",
            "json",
        ])
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
    assert_eq!(state("mart.summary"), "failed");
    assert_eq!(state("mart.after_summary"), "blocked");
    assert_eq!(state("daily.counts"), "fresh");

    let plan = p
        .cli(&["plan", "--now", "2024-01-03T00:00:00Z", "--format", "json"])
        .json();
    assert!(
        plan["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("retry"),
        "{plan}"
    );
}

#[test]
fn status_shows_never_run_stale_and_fresh() {
    let p = events_project();
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 1);
    let state = |now: &str| -> Vec<(String, String)> {
        let status = p.cli(&["status", "--now", now, "--format", "json"]).json();
        status["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().into(),
                    t["state"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let both = |a: &str, b: &str| {
        vec![
            ("daily.counts".to_string(), a.to_string()),
            ("hourly.counts".to_string(), b.to_string()),
        ]
    };
    assert_eq!(
        state("2024-01-02T00:00:00Z"),
        both("never_run", "never_run")
    );
    p.mark("raw.events", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z");
    assert_eq!(state("2024-01-02T00:00:00Z"), both("stale", "stale"));
    p.cli(&["run", "--now", "2024-01-02T00:00:00Z"]);
    assert_eq!(state("2024-01-02T00:00:00Z"), both("fresh", "fresh"));
    let status = p
        .cli(&[
            "status",
            "--now",
            "2024-01-02T01:00:00Z",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(status["tables"][1]["watermark"], "2024-01-02T00:00:00Z");
    assert_eq!(status["tables"][1]["lag_seconds"], 3600);
}

#[test]
fn log_rows_carry_every_spec_field() {
    let p = events_project();
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 1);
    p.mark("raw.events", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z");
    p.cli(&["run", "--now", "2024-01-02T00:00:00Z"]);
    let log = p.log(None);
    assert_eq!(log.len(), 2);
    let fields = [
        "run_id",
        "table_name",
        "env",
        "action",
        "interval_start",
        "interval_end",
        "status",
        "started_at",
        "finished_at",
        "fingerprint",
        "git_commit",
        "triggered_by",
        "as_of",
        "rows_written",
        "error",
        "sql",
        "upstream_runs",
    ];
    for field in fields {
        assert!(log[0].get(field).is_some(), "missing {field}: {}", log[0]);
    }
    let daily = &log[0];
    assert_eq!(daily["table_name"], "daily.counts");
    assert_eq!(daily["action"], "create");
    assert_eq!(daily["as_of"], "2024-01-02T00:00:00Z");
    assert_eq!(daily["rows_written"], 1);
    assert_eq!(daily["upstream_runs"][0]["table"], "hourly.counts");
    assert_eq!(daily["upstream_runs"][0]["run_id"], log[1]["run_id"]);
    assert_eq!(
        daily["upstream_runs"][0]["watermark"],
        "2024-01-02T00:00:00Z"
    );
    assert_eq!(log[1]["upstream_runs"][0]["table"], "raw.events");
    assert!(log[1]["upstream_runs"][0]["run_id"].is_null());
}

#[test]
fn plan_json_matches_the_spec_shape() {
    let p = events_project();
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 1);
    p.mark("raw.events", "2024-01-01T05:00:00Z", "2024-01-02T00:00:00Z");
    let plan = p
        .cli(&["plan", "--now", "2024-01-02T00:00:00Z", "--format", "json"])
        .json();
    assert_eq!(plan["now"], "2024-01-02T00:00:00Z");
    let action = &plan["actions"][0];
    assert_eq!(action["table"], "hourly.counts");
    assert_eq!(action["action"], "create");
    assert_eq!(action["intervals"][0][0], "2024-01-01T00:00:00Z");
    assert_eq!(action["intervals"][0][1], "2024-01-01T05:00:00Z");
    assert!(action["reason"].as_str().unwrap().contains("new table"));
    assert_eq!(plan["actions"].as_array().unwrap().len(), 1);
    assert!(plan["blocked"].as_array().unwrap().is_empty());
}

#[test]
fn query_reads_the_warehouse_read_only() {
    let p = events_project();
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-01 03:00:00", 2);
    let out = p
        .cli(&[
            "query",
            "SELECT count(*) AS n, min(ts) AS first FROM raw.events",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(out["columns"], serde_json::json!(["n", "first"]));
    assert_eq!(
        out["rows"][0],
        serde_json::json!([6, "2024-01-01T00:10:00Z"])
    );
    let write = p.cli(&["query", "CREATE TABLE raw.nope AS SELECT 1"]);
    assert_ne!(write.code, 0);
}

#[test]
fn source_marks_never_move_backwards_or_past_now() {
    let p = events_project();
    assert_eq!(
        p.cli(&[
            "source",
            "mark",
            "raw.events",
            "--through",
            "2024-01-02T00:00:00Z",
            "--now",
            "2024-01-03T00:00:00Z"
        ])
        .code,
        0
    );
    assert_ne!(
        p.cli(&[
            "source",
            "mark",
            "raw.events",
            "--through",
            "2024-01-01T00:00:00Z",
            "--now",
            "2024-01-03T00:00:00Z"
        ])
        .code,
        0
    );
    assert_ne!(
        p.cli(&[
            "source",
            "mark",
            "raw.events",
            "--through",
            "2024-01-05T00:00:00Z",
            "--now",
            "2024-01-03T00:00:00Z"
        ])
        .code,
        0
    );
}

#[test]
fn a_killed_run_is_recovered_with_no_lost_or_duplicated_rows() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        "tables/hourly/counts.yml",
        &hourly_counts("batch_size: 1\n"),
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-02-01 00:00:00", 2);
    p.mark("raw.events", "2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z");
    let mut child = p
        .process(&["run", "--now", "2024-02-01T00:00:00Z"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    for _ in 0..40 {
        lines.next().expect("the run reports progress").unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let resumed = p.cli(&["run", "--now", "2024-02-01T00:00:00Z"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stdout);
    assert_eq!(p.count("SELECT * FROM hourly.counts"), 744);
    assert_eq!(
        p.count("SELECT hour FROM hourly.counts GROUP BY hour HAVING count(*) > 1"),
        0
    );
    assert_eq!(p.rows("SELECT sum(events) FROM hourly.counts"), [["1488"]]);
    let log = p.log(Some("hourly.counts"));
    assert!(
        log.iter().all(|r| r["status"] != "running"),
        "no dangling running rows"
    );
    let successes = log.iter().filter(|r| r["status"] == "success").count();
    assert_eq!(successes, 744, "every hour succeeded exactly once");
}

#[test]
fn rows_of_a_large_first_batch_are_visible_to_downstream_tables() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        "tables/hourly/events.yml",
        "name: hourly.events
schedule: hourly
strategy: append
time_column: ts
start: 2024-01-01
sql: SELECT ts, user_id FROM raw.events WHERE ts >= {{ start }} AND ts < {{ end }}
",
    );
    p.write(
        "tables/daily/events.yml",
        "name: daily.events
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: SELECT CAST(ts AS DATE) AS day, count(*) AS n FROM hourly.events WHERE ts >= {{ start }} AND ts < {{ end }} GROUP BY ALL
",
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-08 00:00:00", 1000);
    p.mark_and_run("raw.events", "2024-01-08T00:00:00Z", "2024-01-08T00:00:00Z");
    assert_eq!(p.count("SELECT * FROM hourly.events"), 168_000);
    assert_eq!(
        p.rows("SELECT sum(n), count(*) FROM daily.events"),
        [["168000", "7"]]
    );
}

#[test]
fn a_second_concurrent_run_refuses_with_a_clear_message_and_corrupts_nothing() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        "tables/hourly/counts.yml",
        &hourly_counts("batch_size: 1\n"),
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-11 00:00:00", 2);
    p.mark("raw.events", "2024-01-11T00:00:00Z", "2024-01-11T00:00:00Z");
    let mut first = p
        .process(&["run", "--now", "2024-01-11T00:00:00Z"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = first.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    lines.next().expect("the first run has started").unwrap();
    let second = p
        .process(&["run", "--now", "2024-01-11T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("another derived process is using"),
        "{message}"
    );
    for line in lines {
        line.unwrap();
    }
    assert!(first.wait().unwrap().success());
    assert_eq!(p.count("SELECT * FROM hourly.counts"), 240);
    assert_eq!(p.rows("SELECT sum(events) FROM hourly.counts"), [["480"]]);
}
