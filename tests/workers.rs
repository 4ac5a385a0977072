//! Several `derived worker` processes sharing a PostgreSQL metadata store and a
//! PostgreSQL warehouse: the work spreads over them, each (table, interval)
//! succeeds once, a killed worker's table is taken over when its lease
//! expires, a `source mark` wakes a running worker at once, and a DuckDB
//! project refuses a second worker. Needs the machine's PostgreSQL; a missing
//! server fails these tests.

mod common;

use common::pg::Database;
use common::{copy_from_repo, http_get, served_address, TestProject};
use derived::env::PhysicalName;
use derived::warehouse::Dialect;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const NOW: &str = "2024-02-05T02:00:00Z";

/// The PostgreSQL variant of the example, pointed at `db` for both warehouse and log.
fn example_on(db: &Database) -> TestProject {
    let p = TestProject::new();
    copy_from_repo(&p, "examples/postgres/tables", "tables");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(repo.join("examples/postgres/derived.yml")).unwrap();
    p.write(
        "derived.yml",
        &config.replace("postgres://postgres@127.0.0.1:5432/test", &db.url()),
    );
    p
}

fn successes(db: &Database) -> Vec<Vec<String>> {
    db.rows(
        "SELECT table_name, interval_start::text, interval_end::text FROM derived.runs
         WHERE status = 'success' ORDER BY 1, 2, 3",
    )
}

/// Every table's rows, as JSON text, sorted.
fn contents(db: &Database, p: &TestProject) -> Vec<(String, Vec<Vec<String>>)> {
    let project = derived::project::load(p.root());
    project
        .tables()
        .map(|t| {
            let name = t.name.to_string();
            let rows = db.rows(&format!(
                "SELECT to_jsonb(t)::text FROM {} t ORDER BY 1",
                Dialect::Ansi.table(&PhysicalName::prod(&t.name))
            ));
            (name, rows)
        })
        .collect()
}

#[test]
fn four_workers_build_the_example_once_and_equal_to_a_single_process() {
    let single = Database::new("single");
    single.load_example_sources();
    let alone = example_on(&single);
    let out = alone.cli(&["run", "--now", NOW]);
    assert_eq!(out.code, 0, "{}", out.stdout);

    let shared = Database::new("shared");
    shared.load_example_sources();
    let p = example_on(&shared);
    let workers: Vec<Child> = (0..4)
        .map(|_| {
            p.process(&[
                "worker",
                "--exit-when-idle",
                "--threads",
                "2",
                "--now",
                NOW,
                "--format",
                "json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut ran_by_worker = Vec::new();
    for worker in workers {
        let out = worker.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a worker failed:\n{stderr}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ran_by_worker.push(report["succeeded"].as_u64().unwrap());
    }

    let runs = successes(&shared);
    assert_eq!(
        runs,
        successes(&single),
        "the same (table, interval) successes as one process"
    );
    let twice = shared.rows(
        "SELECT table_name, interval_start, interval_end FROM derived.runs
         WHERE status = 'success' GROUP BY 1, 2, 3 HAVING count(*) > 1",
    );
    assert!(twice.is_empty(), "succeeded more than once: {twice:?}");
    assert_eq!(
        shared.count("SELECT count(*) FROM derived.runs WHERE status <> 'success'"),
        0
    );
    assert_eq!(shared.count("SELECT count(*) FROM derived.leases"), 0);
    assert_eq!(ran_by_worker.iter().sum::<u64>(), runs.len() as u64);
    assert!(
        ran_by_worker.iter().filter(|&&n| n > 0).count() >= 2,
        "the work was shared: {ran_by_worker:?}"
    );

    let (built, expected) = (contents(&shared, &p), contents(&single, &alone));
    assert_eq!(built.len(), 17);
    for ((table, rows), (_, want)) in built.iter().zip(&expected) {
        assert!(!rows.is_empty(), "{table} is empty");
        assert_eq!(rows, want, "{table} differs from the single-process build");
    }
}

/// A project whose warehouse and log are `db`, with the source `raw.events (ts, user_id)`.
fn on_postgres(db: &Database, freshness: &str) -> TestProject {
    let p = TestProject::new();
    p.write(
        "derived.yml",
        &format!(
            "warehouse: {{type: postgres, url: '{u}'}}\nmetadata: {{type: postgres, url: '{u}', schema: derived}}\ndialect: postgres\n",
            u = db.url()
        ),
    );
    p.write(
        "tables/events.yml",
        &format!("name: raw.events\nkind: source\ntime_column: ts\nfreshness: {freshness}\n"),
    );
    p
}

/// A source of hourly events and an append table that sleeps while it builds.
fn slow_project(db: &Database) -> TestProject {
    db.rows(
        "CREATE SCHEMA raw; CREATE TABLE raw.events (ts TIMESTAMP, user_id BIGINT);
         INSERT INTO raw.events SELECT TIMESTAMP '2024-01-01' + h * INTERVAL '1 hour' + INTERVAL '10 minutes', u
         FROM generate_series(0, 50) AS h, generate_series(1, 3) AS u;",
    );
    let p = on_postgres(db, "{method: max_time, lag: 1h}");
    p.write(
        "tables/daily.yml",
        "name: core.daily
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: |
  SELECT CAST(date_trunc('day', ts) AS TIMESTAMP) AS day, count(*) AS events
  FROM raw.events, (SELECT pg_sleep(3)) AS slow
  WHERE ts >= {{ start }} AND ts < {{ end }}
  GROUP BY 1
",
    );
    p
}

#[test]
fn a_killed_worker_s_table_is_taken_over_when_its_lease_expires() {
    let db = Database::new("takeover");
    let p = slow_project(&db);
    let worker = |ttl: &str| {
        p.process(&[
            "worker",
            "--exit-when-idle",
            "--lease-ttl",
            ttl,
            "--now",
            "2024-01-03T06:00:00Z",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let mut first = worker("3s");
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.count("SELECT count(*) FROM pg_tables WHERE tablename = 'leases'") == 0
        || db.count("SELECT count(*) FROM derived.runs WHERE status = 'running'") == 0
    {
        assert!(
            Instant::now() < deadline,
            "the first worker never started a run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap(); // SIGKILL, mid-run, lease held
    first.wait().unwrap();
    let expiry = db.rows("SELECT expires_at::text FROM derived.leases");
    assert_eq!(expiry.len(), 1, "the dead worker's lease outlives it");

    let out = worker("3s").wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let early = db.count(&format!(
        "SELECT count(*) FROM derived.runs WHERE status = 'success' AND started_at < '{}'",
        expiry[0][0]
    ));
    assert_eq!(
        early, 0,
        "nothing ran before the dead worker's lease expired"
    );

    let runs = db.rows(
        "SELECT status, coalesce(error, ''), interval_start::text FROM derived.runs ORDER BY run_id",
    );
    assert!(
        runs[0][0] == "failed" && runs[0][1].starts_with("abandoned: "),
        "the dead attempt is recorded as abandoned: {runs:?}"
    );
    let twice = db.rows(
        "SELECT interval_start FROM derived.runs WHERE status = 'success' GROUP BY 1 HAVING count(*) > 1",
    );
    assert!(twice.is_empty(), "an interval succeeded twice: {twice:?}");
    assert_eq!(
        db.rows("SELECT day::text, events::text FROM core.daily ORDER BY 1"),
        vec![
            vec!["2024-01-01 00:00:00".to_string(), "72".to_string()],
            vec!["2024-01-02 00:00:00".to_string(), "72".to_string()],
        ],
        "each day once, nothing duplicated"
    );
    assert_eq!(db.count("SELECT count(*) FROM derived.leases"), 0);
    assert_eq!(
        db.count("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%derived_stage%'"),
        0,
        "no stage left behind"
    );
}

#[test]
fn sigterm_lets_the_run_under_way_finish_and_releases_its_lease() {
    let db = Database::new("sigterm");
    let p = slow_project(&db);
    let mut worker = p
        .process(&["worker", "--poll", "1h", "--now", "2024-01-03T06:00:00Z"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.count("SELECT count(*) FROM pg_tables WHERE tablename = 'runs'") == 0
        || db.count("SELECT count(*) FROM derived.runs WHERE status = 'running'") == 0
    {
        assert!(Instant::now() < deadline, "the worker never started a run");
        std::thread::sleep(Duration::from_millis(50));
    }
    common::sigterm(worker.id());
    let status = worker.wait().unwrap();
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
    assert_eq!(
        db.rows("SELECT status FROM derived.runs ORDER BY run_id"),
        vec![vec!["success".to_string()]],
        "the run under way finished; nothing new started"
    );
    assert_eq!(db.count("SELECT count(*) FROM derived.leases"), 0);
}

#[test]
fn a_source_mark_wakes_a_running_worker_within_a_second() {
    let db = Database::new("notify");
    // One hour for the whole test, so that a clock crossing the hour changes nothing.
    let hour = chrono::Utc::now().format("%Y-%m-%d %H:00:00").to_string();
    db.rows(&format!(
        "CREATE SCHEMA raw; CREATE TABLE raw.events (ts TIMESTAMP, user_id BIGINT);
         INSERT INTO raw.events SELECT TIMESTAMP '{hour}' - h * INTERVAL '1 hour', h
         FROM generate_series(1, 6) AS h;"
    ));
    let base = chrono::NaiveDateTime::parse_from_str(&hour, "%Y-%m-%d %H:%M:%S").unwrap();
    let p = on_postgres(&db, "{method: marks}");
    let start = (base - chrono::Duration::hours(4)).format("%Y-%m-%dT%H:00:00Z");
    p.write(
        "tables/hourly.yml",
        &format!(
            "name: core.hourly
schedule: hourly
strategy: append
time_column: hour
start: {start}
sql: |
  SELECT CAST(date_trunc('hour', ts) AS TIMESTAMP) AS hour, count(*) AS events
  FROM raw.events WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}}
  GROUP BY 1
"
        ),
    );
    let mut serve = p
        .process(&["serve", "--listen", "127.0.0.1:0", "--poll", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = served_address(&mut serve);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = http_get(&address, "/health");
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        if code == 200 && health["loops"].as_u64() >= Some(1) {
            assert_eq!(health["status"], "ok");
            break;
        }
        assert!(Instant::now() < deadline, "the worker never planned");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(db.count("SELECT count(*) FROM derived.runs"), 0);

    let through = base.format("%Y-%m-%dT%H:00:00Z").to_string();
    let mark = p
        .process(&["source", "mark", "raw.events", "--through", &through])
        .output()
        .unwrap();
    assert!(mark.status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.count("SELECT count(*) FROM derived.runs WHERE status = 'success'") < 1 {
        assert!(
            Instant::now() < deadline,
            "the mark did not wake the worker"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let latency: f64 = db.rows(
        "SELECT extract(epoch FROM (SELECT min(started_at) FROM derived.runs) - (SELECT max(marked_at) FROM derived.source_marks))",
    )[0][0]
        .parse()
        .unwrap();
    eprintln!(
        "source mark to first dependent run: {:.0} ms",
        latency * 1000.0
    );
    assert!(
        (0.0..1.0).contains(&latency),
        "the dependent table started {latency:.3}s after the mark"
    );
    assert_eq!(db.count("SELECT sum(events) FROM core.hourly"), 4);

    // Lag is measured at each plan; the worker plans again right after its runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (code, metrics) = http_get(&address, "/metrics");
        assert_eq!(code, 200);
        if metrics.contains("derived_table_lag_seconds{table=\"core.hourly\"}") {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "no lag for core.hourly:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        metrics.contains("derived_runs_total{status=\"success\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("derived_run_duration_seconds_count 1"));

    common::sigterm(serve.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
}

#[test]
fn a_duckdb_project_refuses_a_second_worker() {
    let p = TestProject::new();
    p.write(
        "derived.yml",
        "warehouse: {type: duckdb, path: .derived/warehouse.duckdb}\n",
    );
    p.write("tables/one.yml", "name: core.one\nschedule: daily\nstrategy: replace\nstart: 2024-01-01\nsql: SELECT 1 AS x\n");
    let mut first = p
        .process(&["worker", "--poll", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    let built = lines.next().expect("the first worker ran").unwrap();
    assert!(built.starts_with("ok create core.one"), "{built}");
    std::thread::spawn(move || for _ in lines {});
    let second = p.process(&["worker", "--exit-when-idle"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        stderr.contains("another derived process is using")
            && stderr.contains("wait for it to finish"),
        "{stderr}"
    );
    common::sigterm(first.id());
    let status = first.wait().unwrap();
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
}

#[test]
fn workers_on_postgresql_honour_a_pause_made_by_another_process() {
    let db = Database::new("pause");
    db.load_example_sources();
    let p = example_on(&db);
    let paused = "core.user_daily_activity";
    let pause = p
        .process(&["pause", paused, "--reason", "messages are being reloaded"])
        .output()
        .unwrap();
    assert!(
        pause.status.success(),
        "{}",
        String::from_utf8_lossy(&pause.stderr)
    );
    let held: Vec<String> = {
        let project = derived::project::load(p.root());
        let (dag, _) = derived::dag::Dag::build(&project);
        let name = derived::project::TableName::parse(paused).unwrap();
        let mut held: Vec<String> = dag
            .all_downstream(&name)
            .iter()
            .map(ToString::to_string)
            .collect();
        held.push(paused.to_string());
        held
    };
    assert!(
        held.len() > 3,
        "the example has tables downstream of {paused}"
    );

    let mut serve = p
        .process(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--now",
            NOW,
            "--poll",
            "1h",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = served_address(&mut serve);
    let others = 17 - held.len() as i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while db.count(
        "SELECT count(DISTINCT table_name) FROM derived.runs WHERE status = 'success' AND action <> 'pause'",
    ) < others
    {
        assert!(Instant::now() < deadline, "serve did not build what was due");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, metrics) = http_get(&address, "/metrics");
    assert!(
        metrics.contains(&format!("derived_table_paused{{table=\"{paused}\"}} 1")),
        "{metrics}"
    );
    common::sigterm(serve.id());
    assert!(serve.wait().unwrap().success());

    let built: Vec<String> = db
        .rows("SELECT DISTINCT table_name FROM derived.runs WHERE status = 'success' AND action <> 'pause'")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert!(!built.is_empty(), "the rest was built");
    for table in &held {
        assert!(
            !built.contains(table),
            "{table} ran while {paused} was paused"
        );
    }

    let resume = p.process(&["resume", paused]).output().unwrap();
    assert!(resume.status.success());
    let worker = p
        .process(&["worker", "--exit-when-idle", "--now", NOW])
        .output()
        .unwrap();
    assert!(
        worker.status.success(),
        "{}",
        String::from_utf8_lossy(&worker.stderr)
    );
    for table in &held {
        assert!(
            db.count(&format!("SELECT count(*) FROM derived.runs WHERE status = 'success' AND table_name = '{table}'")) > 0,
            "{table} ran once resumed"
        );
    }
    let log = db.rows(&format!(
        "SELECT action, note FROM derived.runs WHERE table_name = '{paused}' AND action IN ('pause', 'resume') ORDER BY run_id"
    ));
    assert_eq!(
        log,
        [
            [
                "pause".to_string(),
                "messages are being reloaded".to_string()
            ],
            ["resume".to_string(), "NULL".to_string()]
        ]
    );
}
