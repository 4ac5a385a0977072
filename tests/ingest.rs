//! `derived ingest` against the machine's NATS JetStream server and DuckDB:
//! distinct events land exactly once (also across kill -9), the watermark
//! builds an hour within seconds of passing its end and not before, late
//! events repair their readers, and a Parquet replay hands over to the live
//! stream with no gap and no overlap. A missing NATS server fails these tests.

mod common;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use common::nats::Jet;
use common::pg::Database;
use common::TestProject;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

const HOURLY: &str = "name: hourly.live
schedule: hourly
strategy: append
time_column: hour
start: 2024-01-01
columns:
  - {name: hour, type: TIMESTAMP}
  - {name: events, type: BIGINT}
  - {name: amount, type: BIGINT}
sql: |
  SELECT date_trunc('hour', event_ts) AS hour, count(*) AS events, sum(amount) AS amount
  FROM raw.live
  WHERE event_ts >= {{ start }} AND event_ts < {{ end }}
  GROUP BY ALL
";

const DAILY: &str = "name: daily.live
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
columns:
  - {name: day, type: DATE}
  - {name: events, type: BIGINT}
sql: |
  SELECT CAST(event_ts AS DATE) AS day, count(*) AS events
  FROM raw.live
  WHERE event_ts >= {{ start }} AND event_ts < {{ end }}
  GROUP BY ALL
";

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// Event `n` at `at`: the time as RFC 3339 for even `n`, epoch ms for odd.
fn event(n: u64, at: DateTime<Utc>) -> String {
    let ts = if n.is_multiple_of(2) {
        serde_json::json!(at.to_rfc3339())
    } else {
        serde_json::json!(at.timestamp_millis())
    };
    serde_json::json!({"event_id": format!("e{n}"), "event_ts": ts, "user_id": n % 97, "amount": n % 1000})
        .to_string()
}

/// `count` events one second apart from `from`, over 4 partitions, with every
/// hundredth published a second time 500 messages later.
fn with_duplicates(
    jet: &Jet,
    first: u64,
    count: u64,
    from: DateTime<Utc>,
) -> Vec<(String, String)> {
    let mut messages = Vec::new();
    for n in first..first + count {
        let at = from + Span::seconds((n - first) as i64);
        messages.push((jet.subject(n % 4), event(n, at)));
        if n >= first + 500 && (n - 500) % 100 == 0 {
            let old = n - 500;
            let at = from + Span::seconds((old - first) as i64);
            messages.push((jet.subject(old % 4), event(old, at)));
        }
    }
    messages
}

/// Count, id checksum and amount checksum of events `first..first+count`.
fn expected(first: u64, count: u64) -> (i64, i64, i64) {
    let range = first..first + count;
    (
        count as i64,
        range.clone().map(|n| n as i64).sum(),
        range.map(|n| (n % 1000) as i64).sum(),
    )
}

fn landed(p: &TestProject) -> (i64, i64, i64) {
    let row = &p.rows(
        "SELECT count(*), coalesce(sum(CAST(substr(event_id, 2) AS BIGINT)), 0), coalesce(sum(amount), 0) FROM raw.live",
    )[0];
    (
        row[0].parse().unwrap(),
        row[1].parse().unwrap(),
        row[2].parse().unwrap(),
    )
}

fn project(jet: &Jet) -> TestProject {
    let p = TestProject::new();
    p.write("tables/raw/live.yml", &jet.source_yaml("raw.live"));
    p.write("tables/hourly/live.yml", HOURLY);
    p
}

/// Every built hour holds exactly the landed events of that hour.
fn assert_hours_match_the_source(p: &TestProject) -> i64 {
    let mismatched = p.count(
        "SELECT * FROM hourly.live h FULL JOIN (
           SELECT date_trunc('hour', event_ts) AS hour, count(*) AS events, sum(amount) AS amount
           FROM raw.live GROUP BY ALL) r USING (hour)
         WHERE h.hour IS NOT NULL AND (h.events IS DISTINCT FROM r.events OR h.amount IS DISTINCT FROM r.amount)",
    );
    assert_eq!(mismatched, 0, "hours that differ from the source");
    p.count("SELECT * FROM hourly.live")
}

#[test]
fn distinct_events_land_exactly_once_from_four_partitions_with_duplicates() {
    let jet = Jet::new("exact");
    let p = project(&jet);
    let messages = with_duplicates(&jet, 0, 100_000, base());
    assert_eq!(messages.len(), 100_995);
    jet.publish(&messages);

    let started = Instant::now();
    let out = p.cli(&["ingest", "raw.live", "--exit-when-idle", "--format", "json"]);
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let report = out.json();
    let ingest = &report["ingest"];
    assert_eq!(ingest["events"], 100_995);
    assert_eq!(ingest["landed"], 100_000);
    assert_eq!(ingest["duplicates"], 995);
    assert_eq!(ingest["rejected"], 0);
    assert_eq!(landed(&p), expected(0, 100_000));
    println!(
        "landed 100,995 messages (100,000 distinct) and built the hours in {seconds:.2} s: {:.0} messages/s",
        100_995.0 / seconds
    );

    // The watermark is the slowest partition's latest event less 30 s of lateness.
    let last = base() + Span::seconds(99_999);
    let slowest = (0..4)
        .map(|partition| (0..100_000u64).rev().find(|n| n % 4 == partition).unwrap())
        .min()
        .unwrap();
    let watermark = base() + Span::seconds(slowest as i64) - Span::seconds(30);
    assert!(watermark < last);
    assert_eq!(
        ingest["watermark"],
        watermark.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    let complete_hours = (watermark - base()).num_hours();
    assert_eq!(assert_hours_match_the_source(&p), complete_hours);

    // Run again: nothing new, nothing landed twice.
    let again = p.cli(&["ingest", "raw.live", "--exit-when-idle", "--format", "json"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.json()["ingest"]["events"], 0);
    assert_eq!(landed(&p), expected(0, 100_000));
}

/// A tiny deterministic generator for kill delays.
struct Lcg(u64);

impl Lcg {
    fn next_below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn kill_9_during_ingest_loses_and_duplicates_nothing() {
    let jet = Jet::new("killed");
    let p = project(&jet);
    jet.publish(&with_duplicates(&jet, 0, 100_000, base()));
    let seed = std::process::id() as u64;
    let mut random = Lcg(seed);
    let mut kills = 0;
    let mut previous = 0;
    for attempt in 0..30 {
        if kills == 6 {
            break;
        }
        let mut child = p
            .process(&["ingest", "raw.live", "--exit-when-idle", "--batch", "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = 150 + random.next_below(600);
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_some() {
            panic!("ingest finished within {delay} ms (attempt {attempt}, seed {seed}); the test needs a slower ingest");
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let (count, _, _) = landed_or_zero(&p);
        if count > previous && count < 100_000 {
            kills += 1;
            println!("kill {kills}: after {delay} ms, {count} events landed");
        }
        previous = count;
    }
    assert_eq!(kills, 6, "seed {seed}");
    let out = p.cli(&["ingest", "raw.live", "--exit-when-idle", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(landed(&p), expected(0, 100_000));
    assert_eq!(
        p.count("SELECT event_id FROM raw.live GROUP BY ALL HAVING count(*) > 1"),
        0
    );
    let hours = assert_hours_match_the_source(&p);
    assert!(hours > 20, "{hours} hours built");
    // Each hour was built by one successful run, whatever the kills interrupted.
    let mut built: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    for run in p.log(Some("hourly.live")) {
        if run["status"] == "success" {
            let at = |key: &str| run[key].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
            let mut hour = at("interval_start");
            while hour < at("interval_end") {
                *built.entry(hour).or_default() += 1;
                hour += Span::hours(1);
            }
        }
    }
    assert_eq!(built.len() as i64, hours);
    assert!(built.values().all(|&n| n == 1), "{built:?}");
}

fn landed_or_zero(p: &TestProject) -> (i64, i64, i64) {
    let exists = p.count(
        "SELECT * FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = 'live'",
    );
    if exists == 0 {
        (0, 0, 0)
    } else {
        landed(p)
    }
}

/// Hour 10:00 on every partition, then one event at 11:00:40 on each of
/// `past`: with 30 s of lateness, the watermark passes 11:00 once all four are.
fn hour_ten_then(jet: &Jet, past: std::ops::Range<u64>) -> Vec<(String, String)> {
    let ten = base() + Span::hours(10);
    let eleven = base() + Span::hours(11);
    let mut messages = hour_ten(jet, 0, ten, eleven);
    for partition in past {
        messages.push((
            jet.subject(partition),
            event(1_000_000 + partition, eleven + Span::seconds(40)),
        ));
    }
    messages
}

/// Events of hour 10:00 on every partition up to `until` (exclusive).
fn hour_ten(
    jet: &Jet,
    first: u64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(String, String)> {
    let mut messages = Vec::new();
    let mut at = from;
    let mut n = first;
    while at < until {
        for partition in 0..4 {
            messages.push((jet.subject(partition), event(n, at)));
            n += 1;
        }
        at += Span::seconds(10);
    }
    messages
}

/// Polls the PostgreSQL log until `hourly.live` has a success for `hour`.
fn built_at(db: &Database, hour: &str, within: Duration) -> Option<Instant> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let n = db.count(&format!(
            "SELECT count(*) FROM derived.runs WHERE table_name = 'hourly.live' AND status = 'success' AND interval_start = '{hour}+00'"
        ));
        if n > 0 {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn an_hour_is_built_within_seconds_of_the_watermark_passing_its_end_and_not_before() {
    let jet = Jet::new("latency");
    let db = Database::new("ingest_latency");
    let p = project(&jet);
    p.write(
        "tables/hourly/live.yml",
        &HOURLY.replace("start: 2024-01-01", "start: 2024-01-01T10:00:00Z"),
    );
    let eleven = base() + Span::hours(11);
    // Hour 10 on every partition, and three partitions already past 11:00:30.
    jet.publish(&hour_ten_then(&jet, 0..3));
    let init = p
        .process(&["status"])
        .env("DERIVED_METADATA_URL", db.url())
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let mut child = p
        .process(&["ingest", "raw.live", "--poll", "1h"])
        .env("DERIVED_METADATA_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Everything lands and the watermark stops at 10:59:50 - 30 s: not enough.
    let deadline = Instant::now() + Duration::from_secs(20);
    let marked = |through: &str| {
        db.count(&format!(
            "SELECT count(*) FROM derived.source_marks WHERE source = 'raw.live' AND through >= '{through}+00'"
        )) > 0
    };
    while !marked("2024-01-01 10:59:20") {
        assert!(
            Instant::now() < deadline,
            "the stream was not landed in 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        built_at(&db, "2024-01-01 10:00:00", Duration::from_secs(3)).is_none(),
        "hour 10 was built before the watermark passed 11:00"
    );
    assert!(!marked("2024-01-01 11:00:00"));

    // The fourth partition passes 11:00:30: the watermark passes 11:00.
    let published = Instant::now();
    jet.publish(&[(jet.subject(3), event(1_000_003, eleven + Span::seconds(35)))]);
    let built = built_at(&db, "2024-01-01 10:00:00", Duration::from_secs(5))
        .expect("hour 10 was not built within 5 s of the watermark passing 11:00");
    let latency = built - published;
    let server_side = db.rows(
        "SELECT extract(epoch FROM r.finished_at - m.marked_at) FROM derived.runs r, derived.source_marks m
         WHERE r.table_name = 'hourly.live' AND r.status = 'success' AND m.source = 'raw.live' AND m.through >= '2024-01-01 11:00:00+00'
         ORDER BY m.marked_at LIMIT 1",
    );
    println!(
        "publish -> hour built: {:.0} ms; watermark mark -> run finished: {} s",
        latency.as_secs_f64() * 1000.0,
        server_side[0][0]
    );
    assert!(latency < Duration::from_secs(5));
    common::sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        p.rows("SELECT hour, events FROM hourly.live"),
        [["2024-01-01T10:00:00Z".to_string(), "1440".to_string()]]
    );
}

#[test]
fn late_events_are_landed_counted_and_repair_the_hours_that_read_them() {
    let jet = Jet::new("late");
    let p = project(&jet);
    let ten = base() + Span::hours(10);
    jet.publish(&hour_ten_then(&jet, 0..4));
    let first = p.cli(&["ingest", "raw.live", "--exit-when-idle", "--format", "json"]);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(first.json()["ingest"]["late"], 0);
    let ten_text = "2024-01-01T10:00:00Z".to_string();
    assert!(p
        .rows("SELECT hour, events FROM hourly.live")
        .contains(&vec![ten_text.clone(), "1440".to_string()]));

    // New events at 10:30 and 03:15 (late: the watermark is 11:00:10) and one duplicate.
    jet.publish(&[
        (jet.subject(2), event(2_000_000, ten + Span::minutes(30))),
        (jet.subject(1), event(5, ten + Span::seconds(10))),
        (
            jet.subject(3),
            event(2_000_001, base() + Span::minutes(195)),
        ),
    ]);
    let second = p.cli(&["ingest", "raw.live", "--exit-when-idle", "--format", "json"]);
    assert_eq!(second.code, 0, "{}", second.stdout);
    let report = second.json();
    assert_eq!(report["ingest"]["late"], 2);
    assert_eq!(report["ingest"]["landed"], 2);
    assert_eq!(report["ingest"]["duplicates"], 1);
    let hours = p.rows("SELECT hour, events FROM hourly.live");
    assert!(hours.contains(&vec![ten_text, "1441".to_string()]));
    assert!(hours.contains(&vec!["2024-01-01T03:00:00Z".to_string(), "1".to_string()]));
    let mut repairs: Vec<String> = p
        .log(Some("raw.live"))
        .into_iter()
        .filter(|r| r["action"] == "backfill" && r["triggered_by"] == "ingest")
        .map(|r| r["interval_start"].as_str().unwrap().to_string())
        .collect();
    repairs.sort();
    assert_eq!(repairs, ["2024-01-01T03:15:00Z", "2024-01-01T10:30:00Z"]);
    // Only the two hours the late events fall in are repaired.
    let mut repaired: Vec<(String, String)> = p
        .log(Some("hourly.live"))
        .iter()
        .filter(|r| r["action"] == "repair")
        .map(|r| {
            let at = |k: &str| r[k].as_str().unwrap().to_string();
            (at("interval_start"), at("interval_end"))
        })
        .collect();
    repaired.sort();
    assert_eq!(
        repaired,
        [
            (
                "2024-01-01T03:00:00Z".to_string(),
                "2024-01-01T04:00:00Z".to_string()
            ),
            (
                "2024-01-01T10:00:00Z".to_string(),
                "2024-01-01T11:00:00Z".to_string()
            )
        ]
    );
    assert_eq!(p.count("SELECT * FROM _derived.stream_late"), 2);
}

/// `ingest --replay-from FILES --exit-when-idle`, which must succeed; its report.
fn replay(p: &TestProject, files: &std::path::Path) -> serde_json::Value {
    let out = p.cli(&[
        "ingest",
        "raw.live",
        "--replay-from",
        files.to_str().unwrap(),
        "--exit-when-idle",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    out.json()
}

#[test]
fn a_parquet_replay_of_one_day_hands_over_to_the_live_stream_without_gap_or_overlap() {
    let jet = Jet::new("replay");
    let p = project(&jet);
    p.write("tables/daily/live.yml", DAILY);
    // Day D archived: one event every 10 s, ids a0..a8639.
    std::fs::create_dir_all(p.root().join("archive")).unwrap();
    let archive = p.root().join("archive/2024-01-01.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT 'e' || i AS event_id, TIMESTAMP '2024-01-01' + i * INTERVAL 10 SECOND AS event_ts,
                      i % 97 AS user_id, i % 1000 AS amount
               FROM range(8640) t(i)) TO '{}' (FORMAT parquet)",
        archive.display()
    ))
    .unwrap();
    // Live: the last 100 events of D again (overlap), then D+1 and a little of D+2.
    let d1 = base() + Span::days(1);
    let mut messages = Vec::new();
    for i in 8540..8640u64 {
        let at = base() + Span::seconds(i as i64 * 10);
        messages.push((jet.subject(i % 4), event(i, at)));
    }
    for i in 8640..(8640 + 8640 + 40) {
        let at = d1 + Span::seconds((i - 8640) as i64 * 10);
        messages.push((jet.subject(i % 4), event(i, at)));
    }
    jet.publish(&messages);

    let report = replay(&p, &p.root().join("archive/*.parquet"));
    let ingest = &report["ingest"];
    assert_eq!(ingest["replayed"], 8640);
    assert_eq!(ingest["landed"], 8640 + 40);
    assert_eq!(ingest["duplicates"], 100);
    assert_eq!(landed(&p), expected(0, 8640 * 2 + 40));
    assert_eq!(
        p.rows("SELECT day, events FROM daily.live"),
        [
            ["2024-01-01".to_string(), "8640".to_string()],
            ["2024-01-02".to_string(), "8640".to_string()]
        ]
    );
    // No gap: every 10 s of both days holds exactly one event.
    assert_eq!(
        p.count(
            "SELECT g.t FROM range(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-03', INTERVAL 10 SECOND) g(t)
             LEFT JOIN raw.live ON event_ts = g.t GROUP BY g.t HAVING count(event_id) <> 1"
        ),
        0
    );
}

#[test]
fn a_stream_block_with_mistakes_is_reported_with_positions() {
    let p = TestProject::new();
    p.write(
        "tables/raw/live.yml",
        "name: raw.live
kind: source
freshness: {method: marks}
time_column: ts
stream:
  broker: kafka
  url: nats://127.0.0.1:4222
  stream: EVENTS
  subjects: [\"events.>\"]
  partitions: four
  event_id: id
  event_time: event_ts
  lateness: soon
columns:
  - {name: event_ts, type: TIMESTAMP}
  - {name: user_id}
",
    );
    let out = p.cli(&["validate", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let errors = out.json()["errors"].as_array().unwrap().clone();
    let at = |needle: &str| {
        errors
            .iter()
            .find(|e| e["message"].as_str().unwrap().contains(needle))
            .map(|e| (e["line"].as_u64().unwrap(), e["column"].as_u64().unwrap()))
            .unwrap_or_else(|| panic!("no error about {needle}: {errors:#?}"))
    };
    assert_eq!(at("cannot have `freshness`"), (3, 1));
    assert_eq!(at("`time_column` is `ts`"), (4, 14));
    assert_eq!(at("unknown broker `kafka`"), (6, 11));
    assert_eq!(at("`partitions` must be"), (10, 15));
    assert_eq!(at("`id` is not among"), (11, 13));
    assert_eq!(at("`lateness`"), (13, 13));
    assert_eq!(at("`user_id` of a stream source has no `type`"), (14, 1));
}

#[test]
fn a_worker_lands_every_stream_source_and_keeps_what_it_cannot_read() {
    let jet = Jet::new("worker");
    let p = project(&jet);
    let mut messages = hour_ten_then(&jet, 0..4);
    messages.push((jet.subject(1), "not json".to_string()));
    messages.push((jet.subject(2), r#"{"event_ts": 1704103200000}"#.to_string()));
    messages.push((
        jet.subject(3),
        r#"{"event_id": "bad", "event_ts": 1704103200000, "user_id": "abc"}"#.to_string(),
    ));
    jet.publish(&messages);

    let out = p.cli(&["worker", "--exit-when-idle", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(landed(&p).0, 1444);
    assert!(p
        .rows("SELECT hour, events FROM hourly.live")
        .contains(&vec![
            "2024-01-01T10:00:00Z".to_string(),
            "1440".to_string()
        ]));
    assert_eq!(
        p.rows("SELECT payload, error FROM _derived.stream_rejects"),
        [
            [
                "not json".to_string(),
                "not JSON: expected ident at line 1 column 2".to_string()
            ],
            [
                r#"{"event_id": "bad", "event_ts": 1704103200000, "user_id": "abc"}"#.to_string(),
                "`user_id` is not BIGINT".to_string()
            ],
            [
                r#"{"event_ts": 1704103200000}"#.to_string(),
                "no `event_id` (the event id)".to_string()
            ]
        ]
    );
}

/// `ingest --exit-when-idle` cannot start: exit 2, saying `message`.
fn refused_to_start(p: &TestProject, message: &str) {
    let out = p.cli(&["ingest", "raw.live", "--exit-when-idle"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stdout.contains(message), "{}", out.stdout);
}

#[test]
fn a_recreated_stream_stops_ingest_instead_of_skipping_its_events() {
    let jet = Jet::new("recreated");
    let p = project(&jet);
    jet.publish(&with_duplicates(&jet, 0, 1000, base()));
    let first = p.cli(&["ingest", "raw.live", "--exit-when-idle"]);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(landed(&p).0, 1000);

    jet.recreate();
    jet.publish(&with_duplicates(&jet, 5000, 10, base()));
    refused_to_start(&p, "ends at sequence 10, before the 1005 already landed");
    // Past the old position, the sequences alone no longer tell.
    jet.publish(&with_duplicates(&jet, 6000, 2000, base()));
    refused_to_start(&p, "was deleted and created again");
    assert_eq!(landed(&p).0, 1000);
}

#[test]
fn events_removed_by_retention_before_landing_stop_ingest_until_allowed() {
    let jet = Jet::new("retention");
    jet.recreate_keeping(100);
    let p = project(&jet);
    let events = |first: u64, count: u64| -> Vec<(String, String)> {
        (first..first + count)
            .map(|n| {
                (
                    jet.subject(n % 4),
                    event(n, base() + Span::seconds(n as i64)),
                )
            })
            .collect()
    };
    jet.publish(&events(0, 50));
    assert_eq!(p.cli(&["ingest", "raw.live", "--exit-when-idle"]).code, 0);
    jet.publish(&events(50, 200));
    refused_to_start(&p, "sequences 51..=150 were removed before they landed");
    assert_eq!(landed(&p).0, 50);
    let allowed = p.cli(&["ingest", "raw.live", "--exit-when-idle", "--allow-gap"]);
    assert_eq!(allowed.code, 0, "{}", allowed.stdout);
    assert_eq!(landed(&p).0, 150);
}

#[test]
fn serve_lands_streams_and_reports_them_in_its_metrics() {
    let jet = Jet::new("served");
    let p = project(&jet);
    let ten = base() + Span::hours(10);
    let mut messages = hour_ten(&jet, 0, ten, ten + Span::hours(1));
    messages.push((jet.subject(0), messages[0].1.clone()));
    messages.push((jet.subject(3), "{}".to_string()));
    jet.publish(&messages);
    let mut serve = p
        .process(&["serve", "--listen", "127.0.0.1:0", "--poll", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = common::served_address(&mut serve);
    let expected = [
        r#"derived_ingest_events_total{source="raw.live",outcome="landed"} 1440"#,
        r#"derived_ingest_events_total{source="raw.live",outcome="duplicate"} 1"#,
        r#"derived_ingest_events_total{source="raw.live",outcome="rejected"} 1"#,
        r#"derived_source_lag_seconds{source="raw.live"}"#,
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, metrics) = common::http_get(&address, "/metrics");
        assert_eq!(code, 200);
        if expected.iter().all(|line| metrics.contains(line)) {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
    common::sigterm(serve.id());
    assert!(serve.wait().unwrap().success());
    assert_eq!(landed(&p).0, 1440);
}

#[test]
fn a_replay_s_mark_is_restored_when_the_process_died_before_writing_it() {
    let jet = Jet::new("replay_mark");
    let p = project(&jet);
    std::fs::create_dir_all(p.root().join("archive")).unwrap();
    let archive = p.root().join("archive/day.parquet");
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT 'e' || i AS event_id, TIMESTAMP '2024-01-01' + i * INTERVAL 1 MINUTE AS event_ts,
                          1 AS user_id, 1 AS amount FROM range(1440) t(i)) TO '{}' (FORMAT parquet)",
            archive.display()
        ))
        .unwrap();
    let report = replay(&p, &archive);
    assert_eq!(report["ingest"]["watermark"], "2024-01-01T23:59:00Z");

    // As if the process died between the replay's commit and its mark.
    let metadata = duckdb::Connection::open(p.root().join(".derived/metadata.duckdb")).unwrap();
    metadata.execute_batch("DELETE FROM source_marks").unwrap();
    drop(metadata);
    let again = p.cli(&["ingest", "raw.live", "--exit-when-idle", "--format", "json"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.json()["ingest"]["watermark"], "2024-01-01T23:59:00Z");
    assert_eq!(landed(&p).0, 1440);
    assert_eq!(p.count("SELECT * FROM hourly.live"), 23);
}

#[test]
fn the_streaming_example_lands_its_stream_and_builds_its_hours() {
    let jet = Jet::new("example");
    let p = TestProject::new();
    common::copy_from_repo(&p, "examples/streaming", "");
    let source = p.root().join("tables/raw/message_events.yml");
    let yaml = std::fs::read_to_string(&source)
        .unwrap()
        .replace("stream: MESSAGE_EVENTS", &format!("stream: {}", jet.stream))
        .replace("[\"messages.>\"]", &format!("[\"{}.>\"]", jet.prefix));
    std::fs::write(&source, yaml).unwrap();
    assert_eq!(p.cli(&["validate"]).code, 0);

    // Two hours of messages in 3 guilds by 5 users, then the hour after on every partition.
    let mut messages = Vec::new();
    for n in 0..720u64 {
        let at = base() + Span::seconds(n as i64 * 10);
        let payload = serde_json::json!({"event_id": format!("m{n}"), "sent_at": at.to_rfc3339(),
            "guild_id": n % 3, "user_id": n % 5, "chars": 10});
        messages.push((jet.subject(n % 4), payload.to_string()));
    }
    for partition in 0..4 {
        let at = base() + Span::hours(2) + Span::seconds(31);
        let payload = serde_json::json!({"event_id": format!("next{partition}"), "sent_at": at.to_rfc3339(),
            "guild_id": 0, "user_id": 0, "chars": 1});
        messages.push((jet.subject(partition), payload.to_string()));
    }
    jet.publish(&messages);
    let out = p.cli(&["ingest", "raw.message_events", "--exit-when-idle"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        p.rows("SELECT hour, sum(messages), sum(chars), max(authors) FROM live.guild_messages_hourly GROUP BY hour"),
        [
            ["2024-01-01T00:00:00Z", "360", "3600", "5"].map(String::from),
            ["2024-01-01T01:00:00Z", "360", "3600", "5"].map(String::from),
        ]
    );
}
