//! End-to-end: fingerprints, rebuilds, repairs and backfills decided from the log.

mod common;

use common::*;

const NOW: &str = "2024-01-15T00:00:00Z";

const WEEKLY: &str = "name: weekly.counts
schedule: weekly
strategy: append
time_column: week
start: 2024-01-01
sql: |
  SELECT CAST(date_trunc('week', day) AS DATE) AS week, sum(events) AS events
  FROM daily.counts WHERE day >= {{ start }} AND day < {{ end }} GROUP BY ALL
";

const SUMMARY: &str = "name: mart.summary
schedule: daily
strategy: replace
start: 2024-01-01
sql: SELECT count(*) AS days, sum(events) AS events FROM daily.counts
";

const FIRSTS: &str = "name: core.firsts
schedule: daily
strategy: merge
time_column: last_at
start: 2024-01-01
unique_key: [user_id]
merge: {first_at: min, last_at: max, events: sum}
sql: |
  SELECT user_id, min(ts) AS first_at, max(ts) AS last_at, count(*) AS events
  FROM raw.events WHERE ts >= {{ start }} AND ts < {{ end }} GROUP BY user_id
";

/// Hourly → daily → weekly and a replace summary, plus a merge table on the raw data.
fn chain() -> TestProject {
    let p = events_project();
    p.write("tables/weekly/counts.yml", WEEKLY);
    p.write("tables/mart/summary.yml", SUMMARY);
    p.write("tables/core/firsts.yml", FIRSTS);
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-15 00:00:00", 3);
    p
}

fn build(p: &TestProject) {
    p.cli(&[
        "source",
        "mark",
        "raw.events",
        "--through",
        NOW,
        "--now",
        NOW,
    ]);
    let run = p.cli(&["run", "--now", NOW]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// The planned actions, sorted by table.
fn plan(p: &TestProject) -> Vec<(String, String, usize)> {
    let plan = p.cli(&["plan", "--now", NOW, "--format", "json"]).json();
    let mut actions: Vec<(String, String, usize)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["table"].as_str().unwrap().into(),
                a["action"].as_str().unwrap().into(),
                a["interval_count"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    actions.sort();
    actions
}

fn snapshot(p: &TestProject) -> Vec<Vec<Vec<String>>> {
    [
        "hourly.counts",
        "daily.counts",
        "weekly.counts",
        "mart.summary",
        "core.firsts",
    ]
    .iter()
    .map(|t| p.rows(&format!("SELECT * FROM {t}")))
    .collect()
}

fn runs_since(p: &TestProject, after: i64) -> Vec<(String, String, String, String)> {
    let mut runs: Vec<_> = p
        .log(None)
        .into_iter()
        .filter(|r| r["run_id"].as_i64().unwrap() > after)
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (
                s("table_name"),
                s("action"),
                s("interval_start"),
                s("interval_end"),
            )
        })
        .collect();
    runs.sort();
    runs
}

fn last_run_id(p: &TestProject) -> i64 {
    p.log(None)[0]["run_id"].as_i64().unwrap()
}

#[test]
fn cosmetic_and_documentation_changes_plan_nothing() {
    let p = chain();
    build(&p);
    p.write(
        "tables/daily/counts.yml",
        &DAILY_COUNTS
            .replace(
                "SELECT CAST(hour AS DATE)",
                "-- one row per day\n  select cast(hour as date)",
            )
            .replace("{{ start }}", "{{start}}")
            .replace("GROUP BY ALL", "group   by all")
            .replace(
                "strategy: append",
                "strategy: append\ndescription: Events per day.\nowner: data-science\ntags: [core]",
            ),
    );
    assert_eq!(plan(&p), []);
}

#[test]
fn a_semantic_change_rebuilds_the_table_and_repairs_exactly_its_downstream() {
    let p = chain();
    build(&p);
    p.write(
        "tables/hourly/counts.yml",
        &hourly_counts("").replace("count(*) AS events", "count(*) * 10 AS events"),
    );
    let planned = plan(&p);
    assert_eq!(
        planned,
        [
            ("daily.counts".to_string(), "repair".to_string(), 14),
            ("hourly.counts".to_string(), "rebuild".to_string(), 336),
            ("mart.summary".to_string(), "repair".to_string(), 1),
            ("weekly.counts".to_string(), "repair".to_string(), 2),
        ]
    );
    let reasons = p.cli(&["plan", "--now", NOW, "--format", "json"]).json();
    let reason = |table: &str| {
        reasons["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["table"] == table)
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("hourly.counts").contains("fingerprint changed"));
    assert!(reason("daily.counts")
        .contains("upstream hourly.counts rewrote 2024-01-01T00:00:00Z/2024-01-15T00:00:00Z"));
    build(&p);
    assert_eq!(plan(&p), [], "the cascade finished in one run");

    let fresh = chain();
    fresh.write(
        "tables/hourly/counts.yml",
        &hourly_counts("").replace("count(*) AS events", "count(*) * 10 AS events"),
    );
    build(&fresh);
    assert_eq!(snapshot(&p), snapshot(&fresh));
}

#[test]
fn backfilling_three_hours_repairs_only_the_overlapping_downstream_intervals() {
    let p = chain();
    build(&p);
    let before = last_run_id(&p);
    let backfill = p.cli(&[
        "backfill",
        "hourly.counts",
        "--from",
        "2024-01-09T05:00:00Z",
        "--to",
        "2024-01-09T08:00:00Z",
        "--downstream",
        "--now",
        NOW,
    ]);
    assert_eq!(backfill.code, 0, "{}", backfill.stdout);
    let t = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_string(), b.to_string(), c.to_string(), d.to_string())
    };
    assert_eq!(
        runs_since(&p, before),
        [
            t(
                "daily.counts",
                "repair",
                "2024-01-09T00:00:00Z",
                "2024-01-10T00:00:00Z"
            ),
            t(
                "hourly.counts",
                "backfill",
                "2024-01-09T05:00:00Z",
                "2024-01-09T08:00:00Z"
            ),
            t(
                "mart.summary",
                "repair",
                "2024-01-14T00:00:00Z",
                "2024-01-15T00:00:00Z"
            ),
            t(
                "weekly.counts",
                "repair",
                "2024-01-08T00:00:00Z",
                "2024-01-15T00:00:00Z"
            ),
        ]
    );
    let log = p.log(Some("hourly.counts"));
    assert_ne!(log[0]["triggered_by"], "scheduler");
    assert_eq!(plan(&p), []);
}

#[test]
fn a_backfill_without_downstream_leaves_the_repairs_to_the_next_run() {
    let p = chain();
    build(&p);
    p.cli(&[
        "backfill",
        "hourly.counts",
        "--from",
        "2024-01-09T05:00:00Z",
        "--to",
        "2024-01-09T06:00:00Z",
        "--now",
        NOW,
    ]);
    let planned = plan(&p);
    assert_eq!(
        planned,
        [
            ("daily.counts".to_string(), "repair".to_string(), 1),
            ("mart.summary".to_string(), "repair".to_string(), 1),
            ("weekly.counts".to_string(), "repair".to_string(), 1),
        ],
        "decided from the log alone"
    );
}

#[test]
fn corrected_raw_data_and_a_source_backfill_equal_a_fresh_build() {
    let p = chain();
    build(&p);
    let correction = "DELETE FROM raw.events WHERE ts >= TIMESTAMP '2024-01-03 10:00:00' AND ts < TIMESTAMP '2024-01-03 12:00:00';
                      INSERT INTO raw.events VALUES ('2024-01-03 10:30:00', 99, 'late'), ('2024-01-03 11:30:00', 98, 'late');";
    p.sql(correction);
    let backfill = p.cli(&[
        "backfill",
        "raw.events",
        "--from",
        "2024-01-03T10:00:00Z",
        "--to",
        "2024-01-03T12:00:00Z",
        "--now",
        NOW,
    ]);
    assert_eq!(backfill.code, 0, "{}", backfill.stdout);
    assert_eq!(plan(&p), []);

    let fresh = chain();
    fresh.sql(correction);
    build(&fresh);
    assert_eq!(snapshot(&p), snapshot(&fresh));
    let merge_runs = p.log(Some("core.firsts"));
    assert_eq!(
        merge_runs[0]["action"], "rebuild",
        "a merge table repairs by rebuilding from start"
    );
}

#[test]
fn a_failed_rebuild_leaves_the_old_table_and_is_retried() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        "tables/hourly/counts.yml",
        &hourly_counts("batch_size: 48\n"),
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-15 00:00:00", 2);
    build(&p);
    let before = p.rows("SELECT * FROM hourly.counts");
    // A statement that fails for every interval fails the rebuild as a whole
    // (a failure on one interval's data is isolated instead: tests/failures.rs).
    let exploding = hourly_counts("batch_size: 48\n")
        .replace("count(*) AS events", "count(no_such_column) AS events");
    p.write("tables/hourly/counts.yml", &exploding);
    let run = p.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["runs"][0]["action"], "rebuild");
    assert_eq!(
        p.rows("SELECT * FROM hourly.counts"),
        before,
        "readers still see the old table"
    );
    assert_eq!(
        p.count(
            "SELECT * FROM information_schema.tables WHERE table_name LIKE '%derived_rebuild%'"
        ),
        0
    );

    p.write(
        "tables/hourly/counts.yml",
        &hourly_counts("batch_size: 48\n").replace("count(*) AS events", "count(*) + 1 AS events"),
    );
    let planned = plan(&p);
    assert_eq!(
        planned,
        [("hourly.counts".to_string(), "rebuild".to_string(), 336)]
    );
    build(&p);
    assert_eq!(p.rows("SELECT sum(events) FROM hourly.counts"), [["1008"]]);
}

#[test]
fn rebuild_command_rebuilds_on_request() {
    let p = chain();
    build(&p);
    let before = snapshot(&p);
    let out = p
        .cli(&["rebuild", "core.firsts", "--now", NOW, "--format", "json"])
        .json();
    assert_eq!(out["runs"].as_array().unwrap().len(), 1);
    assert_eq!(out["runs"][0]["action"], "rebuild");
    assert_eq!(snapshot(&p), before);
}

#[test]
fn a_new_upstream_column_read_through_star_evolves_the_reader_instead_of_wedging_it() {
    let p = events_project();
    p.write(
        "tables/core/star_reader.yml",
        "name: core.star_reader
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: SELECT * FROM daily.counts WHERE day >= {{ start }} AND day < {{ end }}
",
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-15 00:00:00", 2);
    build(&p);
    let widened = DAILY_COUNTS.replace(
        "count(*) AS hours",
        "count(*) AS hours, count(DISTINCT events) AS kinds",
    );
    p.write("tables/daily/counts.yml", &widened);
    let run = p.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    let reader = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == "core.star_reader")
        .unwrap();
    assert!(
        reader["warnings"][0]
            .as_str()
            .unwrap()
            .contains("added column(s) kinds"),
        "{reader:#}"
    );
    assert_eq!(
        p.count("SELECT * FROM core.star_reader WHERE kinds IS NULL"),
        0,
        "the repair rewrote every day with the new column"
    );
    assert!(plan(&p).is_empty(), "nothing left to retry");
}

const PER_DAY: &str = "name: core.per_day
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: |
  SELECT CAST(ts AS DATE) AS day, count(*) AS events, count(DISTINCT user_id) AS users
  FROM raw.events WHERE ts >= {{ start }} AND ts < {{ end }} GROUP BY ALL
";

/// core.per_day read by three tables: one reads `events`, one `users`, one `*`.
fn per_day_and_readers() -> TestProject {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write("tables/core/per_day.yml", PER_DAY);
    for (name, select) in [
        ("events_x2", "day, events * 2 AS doubled"),
        ("users_x2", "day, users * 2 AS doubled"),
        ("everything", "*"),
    ] {
        p.write(
            &format!("tables/mart/{name}.yml"),
            &format!(
                "name: mart.{name}
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: SELECT {select} FROM core.per_day WHERE day >= {{{{ start }}}} AND day < {{{{ end }}}}
"
            ),
        );
    }
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-15 00:00:00", 3);
    build(&p);
    p
}

fn plan_json(p: &TestProject) -> serde_json::Value {
    p.cli(&["plan", "--now", NOW, "--format", "json"]).json()
}

#[test]
fn a_changed_column_repairs_only_the_tables_that_read_it() {
    let p = per_day_and_readers();
    let before = p.rows("SELECT * FROM mart.events_x2 ORDER BY day");
    let last = last_run_id(&p);
    p.write(
        "tables/core/per_day.yml",
        &PER_DAY.replace(
            "count(DISTINCT user_id) AS users",
            "count(DISTINCT user_id) * 10 AS users",
        ),
    );
    assert_eq!(
        plan(&p),
        [
            ("core.per_day".to_string(), "rebuild".to_string(), 14),
            ("mart.everything".to_string(), "repair".to_string(), 14),
            ("mart.users_x2".to_string(), "repair".to_string(), 14),
        ],
        "mart.events_x2 reads only `events`, which did not change"
    );
    let planned = plan_json(&p);
    let action = |table: &str| {
        planned["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["table"] == table)
            .unwrap()
            .clone()
    };
    assert_eq!(
        action("core.per_day")["impact"],
        serde_json::json!({"intervals": 14, "bytes": null, "columns": ["core.per_day.users"]})
    );
    assert!(
        action("mart.users_x2")["reason"]
            .as_str()
            .unwrap()
            .contains("reads core.per_day.users (changed)"),
        "{planned:#}"
    );
    assert_eq!(
        planned["impact"],
        serde_json::json!({"intervals": 42, "bytes": null})
    );

    build(&p);
    assert_eq!(plan(&p), [], "nothing left");
    assert_eq!(p.rows("SELECT * FROM mart.events_x2 ORDER BY day"), before);
    assert!(
        !runs_since(&p, last).iter().any(|r| r.0 == "mart.events_x2"),
        "the unaffected reader did not run"
    );
    assert_eq!(
        p.rows("SELECT DISTINCT doubled FROM mart.users_x2"),
        [["60"]],
        "3 users × 10 × 2"
    );
}

#[test]
fn an_added_column_repairs_only_star_readers_and_a_removed_one_its_readers() {
    let p = per_day_and_readers();
    p.write(
        "tables/core/per_day.yml",
        &PER_DAY.replace("AS users", "AS users, max(ts) AS last_seen"),
    );
    assert_eq!(
        plan(&p),
        [
            ("core.per_day".to_string(), "rebuild".to_string(), 14),
            ("mart.everything".to_string(), "repair".to_string(), 14),
        ]
    );
    build(&p);
    assert_eq!(
        p.count("SELECT * FROM mart.everything WHERE last_seen IS NULL"),
        0,
        "the star reader was repaired with the new column"
    );
    assert_eq!(plan(&p), []);

    // Back to the original: `last_seen` is removed; only the star reader read it.
    p.write("tables/core/per_day.yml", PER_DAY);
    assert_eq!(
        plan(&p),
        [
            ("core.per_day".to_string(), "rebuild".to_string(), 14),
            ("mart.everything".to_string(), "repair".to_string(), 14),
        ]
    );
}

#[test]
fn a_new_filter_changes_the_rows_and_repairs_every_reader() {
    let p = per_day_and_readers();
    p.write(
        "tables/core/per_day.yml",
        &PER_DAY.replace("WHERE ts >=", "WHERE user_id <> 2 AND ts >="),
    );
    let planned = plan_json(&p);
    assert_eq!(
        planned["actions"].as_array().unwrap().len(),
        4,
        "{planned:#}"
    );
    assert!(
        planned["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("every reader repairs (its rows changed"),
        "{planned:#}"
    );
}

#[test]
fn a_forward_change_keeps_built_rows_and_applies_from_the_next_interval() {
    let p = per_day_and_readers();
    let forward = PER_DAY
        .replace("strategy: append", "strategy: append\non_change: forward")
        .replace(
            "count(*) AS events",
            "count(*) * 10 AS events, max(ts) AS last_seen",
        );
    p.write("tables/core/per_day.yml", &forward);
    assert_eq!(
        plan(&p),
        [],
        "built intervals stay: nothing to rebuild or repair"
    );

    insert_events(&p, "2024-01-15 00:00:00", "2024-01-16 00:00:00", 3);
    let later = "2024-01-16T00:00:00Z";
    let report = p.mark_and_run("raw.events", later, later);
    let per_day = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == "core.per_day")
        .unwrap();
    assert_eq!(per_day["action"], "increment");
    assert_eq!(per_day["interval_start"], "2024-01-15T00:00:00Z");
    assert_eq!(
        p.rows("SELECT CAST(day AS VARCHAR), events, last_seen IS NULL FROM core.per_day WHERE day >= DATE '2024-01-14' ORDER BY day"),
        [["2024-01-14", "72", "true"], ["2024-01-15", "720", "false"]],
        "the old day keeps its rows (the new column NULL); the new day has the new definition"
    );
    assert_eq!(
        p.rows("SELECT doubled FROM mart.events_x2 WHERE day >= DATE '2024-01-14' ORDER BY day"),
        [["144"], ["1440"]],
        "downstream follows from the switch point, with no repair before it"
    );
    let fingerprints: std::collections::BTreeSet<String> = p
        .log(Some("core.per_day"))
        .iter()
        .map(|r| r["fingerprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fingerprints.len(),
        2,
        "the log says which definition built each interval"
    );
    let status = p
        .cli(&["status", "--now", later, "--format", "json"])
        .json();
    let row = status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "core.per_day")
        .unwrap()
        .clone();
    let definitions = row["definitions"]
        .as_array()
        .expect("a forward table lists its definitions");
    assert_eq!(definitions.len(), 2, "{row:#}");
    assert_eq!(
        definitions[0]["ranges"][0],
        serde_json::json!(["2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z"])
    );
    assert_eq!(definitions[0]["current"], false);
    assert_eq!(
        definitions[1]["ranges"][0],
        serde_json::json!(["2024-01-15T00:00:00Z", "2024-01-16T00:00:00Z"])
    );
    assert_eq!(definitions[1]["current"], true);
    let text = p.cli(&["status", "--now", later]).stdout;
    assert!(
        text.contains("built by definition")
            && text.contains("(current): 2024-01-15T00:00:00Z .. 2024-01-16T00:00:00Z"),
        "{text}"
    );
    let site = p.root().join("site");
    let docs = p.cli(&["docs", "--out", site.to_str().unwrap(), "--now", later]);
    assert_eq!(docs.code, 0, "{}", docs.stdout);
    let page = std::fs::read_to_string(site.join("tables/core.per_day.html")).unwrap();
    assert!(
        page.contains("<h3>Built by definition</h3>")
            && page.contains("(current): 2024-01-15T00:00:00Z – 2024-01-16T00:00:00Z"),
        "the catalog page says which definition built which days"
    );

    let backfill = p.cli(&[
        "backfill",
        "core.per_day",
        "--from",
        "2024-01-14",
        "--to",
        "2024-01-15",
        "--downstream",
        "--now",
        later,
    ]);
    assert_eq!(backfill.code, 0, "{}", backfill.stdout);
    assert_eq!(
        p.rows("SELECT events FROM core.per_day WHERE day = DATE '2024-01-14'"),
        [["720"]],
        "a backfill re-runs an old interval with the new definition"
    );

    p.write(
        "tables/core/per_day.yml",
        &forward.replace(", count(DISTINCT user_id) AS users", ""),
    );
    let refused = p.cli(&["run", "--now", later]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("drops column(s) users")
            && refused
                .stdout
                .contains("remove `on_change: forward` to rebuild"),
        "{}",
        refused.stdout
    );
}

#[test]
fn forward_is_refused_on_a_replace_table() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        "tables/mart/summary.yml",
        &SUMMARY
            .replace("strategy: replace", "strategy: replace\non_change: forward")
            .replace("daily.counts", "raw.events"),
    );
    let out = p.cli(&["validate", "--format", "json"]).json();
    assert_eq!(
        out["errors"][0]["code"], "forward-needs-intervals",
        "{out:#}"
    );
}

#[test]
fn a_forward_change_that_retypes_a_declared_column_is_refused() {
    let p = TestProject::new();
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    let typed = PER_DAY.replace(
        "strategy: append",
        "strategy: append\non_change: forward\ncolumns:\n  - {name: events, type: BIGINT}",
    );
    p.write("tables/core/per_day.yml", &typed);
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-15 00:00:00", 3);
    build(&p);
    p.write(
        "tables/core/per_day.yml",
        &typed.replace("type: BIGINT", "type: DOUBLE"),
    );
    let refused = p.cli(&["plan", "--now", NOW]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused
            .stdout
            .contains("retypes column(s) events (BIGINT → DOUBLE)"),
        "{}",
        refused.stdout
    );
    let validate = p.cli(&["validate", "--format", "json"]);
    assert_eq!(validate.code, 1, "{}", validate.stdout);
    let error = &validate.json()["errors"][0];
    assert_eq!(error["code"], "forward-retypes-column", "{error:#}");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(4), Some(1)),
        "at `on_change`: {error:#}"
    );
    assert!(
        error["help"].as_str().unwrap().contains("cast in the SQL"),
        "{error:#}"
    );
}
