//! The PostgreSQL warehouse on the machine's server (127.0.0.1:5432): append,
//! merge and replace build and increment correctly, a failing run leaves the
//! table as it was, and the log can live in the same database. A missing
//! server fails these tests; it never skips them.

mod common;

use common::TestProject;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn psql(sql: &str) -> Vec<Vec<String>> {
    common::pg::query(PG, sql)
}

#[test]
fn append_merge_and_replace_build_and_increment_on_postgresql() {
    let ds = format!("pgw{}", std::process::id());
    let cleanup = format!(
        "DROP SCHEMA IF EXISTS {ds}_raw CASCADE; DROP SCHEMA IF EXISTS {ds}_core CASCADE; DROP SCHEMA IF EXISTS {ds}_mart CASCADE; DROP SCHEMA IF EXISTS {ds}_log CASCADE"
    );
    psql(&cleanup);
    psql(&format!(
        "CREATE SCHEMA {ds}_raw; CREATE TABLE {ds}_raw.events (ts TIMESTAMP, user_id BIGINT);
         INSERT INTO {ds}_raw.events SELECT TIMESTAMP '2024-01-01' + h * INTERVAL '1 hour' + INTERVAL '10 minutes', u
         FROM generate_series(0, 47) AS h, generate_series(1, 3) AS u;"
    ));
    let p = TestProject::new();
    p.write(
        "derived.yml",
        &format!("warehouse: {{type: postgres, url: '{PG}'}}\nmetadata: {{type: postgres, url: '{PG}', schema: {ds}_log}}\n"),
    );
    p.write(
        "tables/raw.yml",
        &format!("name: {ds}_raw.events\nkind: source\ntime_column: ts\nfreshness: {{method: max_time, lag: 1h}}\n"),
    );
    p.write(
        "tables/daily.yml",
        &format!(
            "name: {ds}_core.daily
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {{name: events, type: BIGINT}}
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS events
  FROM {ds}_raw.events WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}}
  GROUP BY 1
"
        ),
    );
    p.write(
        "tables/firsts.yml",
        &format!(
            "name: {ds}_core.firsts
schedule: daily
strategy: merge
unique_key: [user_id]
time_column: last_seen
start: 2024-01-01
merge: {{first_seen: min, last_seen: max, events: sum}}
sql: |
  SELECT user_id, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS events
  FROM {ds}_raw.events WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}}
  GROUP BY user_id
"
        ),
    );
    p.write(
        "tables/summary.yml",
        &format!(
            "name: {ds}_mart.summary
schedule: daily
strategy: replace
start: 2024-01-01
sql: |
  SELECT (SELECT sum(events) FROM {ds}_core.daily) AS events, (SELECT count(*) FROM {ds}_core.firsts) AS users
"
        ),
    );

    // Complete through max(ts) - 1h = 2024-01-02 22:10: day one only.
    let out = p.cli(&["--now", "2024-01-02T12:00:00Z", "--format", "json", "run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        psql(&format!(
            "SELECT CAST(day AS DATE)::text, events::text FROM {ds}_core.daily ORDER BY 1"
        )),
        [["2024-01-01", "72"]]
    );
    // Later data arrives: day two is now complete.
    psql(&format!(
        "INSERT INTO {ds}_raw.events VALUES (TIMESTAMP '2024-01-03 05:00:00', 1)"
    ));
    let out = p.cli(&["--now", "2024-01-03T12:00:00Z", "--format", "json", "run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        psql(&format!(
            "SELECT CAST(day AS DATE)::text, events::text FROM {ds}_core.daily ORDER BY 1"
        )),
        [["2024-01-01", "72"], ["2024-01-02", "72"]]
    );
    assert_eq!(
        psql(&format!(
            "SELECT user_id::text, first_seen::text, last_seen::text, events::text FROM {ds}_core.firsts ORDER BY 1"
        )),
        (1..=3)
            .map(|u| vec![u.to_string(), "2024-01-01 00:10:00".into(), "2024-01-02 23:10:00".into(), "48".into()])
            .collect::<Vec<_>>(),
        "merge applied both days once: min, max and sum"
    );
    assert_eq!(
        psql(&format!(
            "SELECT events::text, users::text FROM {ds}_mart.summary"
        )),
        [["144", "3"]]
    );
    assert_eq!(
        psql(&format!("SELECT count(*)::text FROM _derived.commits c JOIN {ds}_log.runs r USING (run_id) WHERE r.status = 'success' AND c.target LIKE '{ds}%'"))[0][0],
        p.log(None).iter().filter(|r| r["status"] == "success").count().to_string(),
        "every successful run committed its write"
    );

    // A failing replace leaves the old table and no stage behind.
    p.write(
        "tables/summary.yml",
        &format!("name: {ds}_mart.summary\nschedule: daily\nstrategy: replace\nstart: 2024-01-01\nsql: SELECT 1/0 AS events\n"),
    );
    let out = p.cli(&["--now", "2024-01-03T12:00:00Z", "--format", "json", "run"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("division by zero"), "{}", out.stdout);
    assert_eq!(
        psql(&format!(
            "SELECT events::text, users::text FROM {ds}_mart.summary"
        )),
        [["144", "3"]]
    );
    assert!(psql(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema LIKE '{ds}%' AND table_name LIKE '%derived%'"
    ))
    .is_empty());

    let out = p.cli(&[
        "--format",
        "json",
        "query",
        &format!("SELECT day, events FROM {ds}_core.daily ORDER BY day"),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        out.json()["rows"][1],
        serde_json::json!(["2024-01-02T00:00:00Z", 72])
    );
    psql(&format!("CREATE SEQUENCE {ds}_core.ids"));
    let write = p.cli(&["query", &format!("SELECT nextval('{ds}_core.ids') AS id")]);
    assert_ne!(write.code, 0, "a query cannot write: {}", write.stdout);
    assert_eq!(
        psql(&format!("SELECT is_called FROM {ds}_core.ids"))[0][0],
        "f",
        "the sequence never moved"
    );
    psql(&cleanup);
}

#[test]
fn a_run_past_its_timeout_is_cancelled_in_postgresql_and_keeps_the_table() {
    let ds = format!("pgt{}", std::process::id());
    let cleanup =
        format!("DROP SCHEMA IF EXISTS {ds}_mart CASCADE; DROP SCHEMA IF EXISTS {ds}_log CASCADE");
    psql(&cleanup);
    let p = TestProject::new();
    p.write(
        "derived.yml",
        &format!("warehouse: {{type: postgres, url: '{PG}'}}\nmetadata: {{type: postgres, url: '{PG}', schema: {ds}_log}}\ndefaults: {{timeout: 2s}}\n"),
    );
    p.write(
        "tables/slow.yml",
        &format!(
            "name: {ds}_mart.slow
schedule: daily
start: 2024-01-01
sql: |
  SELECT {{{{ end_date }}}} AS as_of
  FROM (SELECT CASE WHEN {{{{ end }}}} > TIMESTAMP '2024-01-05' THEN pg_sleep(60) END) AS wait
"
        ),
    );
    assert_eq!(p.cli(&["run", "--now", "2024-01-05T00:00:00Z"]).code, 0);
    let started = std::time::Instant::now();
    let out = p.cli(&["run", "--now", "2024-01-07T00:00:00Z", "--format", "json"]);
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(took.as_secs() < 15, "cancelled after {took:?}");
    let error = out.json()["runs"][0]["error"].as_str().unwrap().to_string();
    assert!(error.starts_with("timeout:"), "{error}");
    assert_eq!(
        psql(&format!("SELECT as_of::text FROM {ds}_mart.slow")),
        [["2024-01-05".to_string()]]
    );
    let idle = psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()",
    );
    assert_eq!(
        idle,
        [["0".to_string()]],
        "the statement was cancelled in the server"
    );
    psql(&cleanup);
}
