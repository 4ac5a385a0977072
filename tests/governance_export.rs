//! End-to-end: policies through lineage, and export to real Redis and PostgreSQL
//! (127.0.0.1:6379 and :5432 must be running; a missing server fails the test).

mod common;

use common::*;
use redis::Commands;

const NOW: &str = "2024-01-04T00:00:00Z";
const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn governed(config_extra: &str, first_select: &str) -> TestProject {
    let p = TestProject::new();
    p.write("derived.yml", &format!("privatizers: [sha256]\npolicies:\n  pii: {{readers: [privacy], exports: []}}\n{config_extra}"));
    p.write("tables/raw/users.yml", "name: raw.users\nkind: source\nfreshness: {method: always}\ncolumns:\n  - {name: user_id}\n  - {name: email, policy: pii}\n  - {name: country}\n");
    p.write("tables/core/a.yml", &format!("name: core.a\nschedule: daily\nstart: 2024-01-01\nsql: SELECT user_id, {first_select} AS contact, country FROM raw.users\n"));
    p.write("tables/core/b.yml", "name: core.b\nschedule: daily\nstart: 2024-01-01\nsql: SELECT user_id, contact, upper(country) AS country FROM core.a\n");
    p.write("tables/mart/c.yml", "name: mart.c\nschedule: daily\nstart: 2024-01-01\nreaders: [analysts]\nsql: SELECT country, contact FROM core.b\n");
    p
}

#[test]
fn a_pii_column_reaching_analysts_through_two_tables_fails_validate_with_its_chain() {
    let p = governed("", "lower(email)");
    let out = p.cli(&["validate", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let json = out.json();
    let error = &json["errors"][0];
    assert_eq!(error["code"], "policy-exposed");
    assert_eq!(error["file"], "tables/mart/c.yml");
    assert_eq!(error["line"], 4);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("raw.users.email → core.a.contact → core.b.contact → mart.c.contact"),
        "{message}"
    );
    assert!(
        message.contains("readers `analysts` may not see `pii`"),
        "{message}"
    );
    assert!(error["help"].as_str().unwrap().contains("sha256"));
    assert_eq!(
        json["errors"].as_array().unwrap().len(),
        1,
        "country carries no policy"
    );

    let hashed = governed("", "sha256(lower(email))");
    assert_eq!(
        hashed.cli(&["validate"]).code,
        0,
        "a privatizer clears the policy"
    );
}

fn clear_redis(prefix: &str) -> redis::Connection {
    let mut redis = redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_connection()
        .expect("Redis must run on 127.0.0.1:6379");
    let keys: Vec<String> = redis.keys(format!("{prefix}:*")).unwrap();
    if !keys.is_empty() {
        let _: () = redis.del(keys).unwrap();
    }
    redis
}

fn pg_rows(schema: &str, table: &str) -> Vec<String> {
    let out = std::process::Command::new("psql")
        .args([
            PG,
            "-At",
            "-c",
            &format!("SELECT row_to_json(t)::text FROM {schema}.{table} t ORDER BY 1"),
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn unique(name: &str) -> String {
    format!(
        "{name}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

fn export_project(dataset: &str, schema: &str) -> TestProject {
    let p = TestProject::new();
    p.write("derived.yml", &format!("stores:\n  redis: {{url: 'redis://127.0.0.1:6379'}}\n  postgres: {{url: '{PG}', schema: {schema}}}\n"));
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        &format!("tables/{dataset}/daily.yml"),
        &format!(
            "name: {dataset}.daily
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
export:
  - {{to: redis, key: [day, user_id]}}
  - {{to: postgres, key: [day, user_id]}}
columns:
  - {{name: day, type: DATE}}
  - {{name: user_id, type: BIGINT}}
  - {{name: events, type: BIGINT}}
sql: |
  SELECT CAST(ts AS DATE) AS day, user_id, count(*) AS events FROM raw.events
  WHERE ts >= {{{{ start }}}} AND ts < {{{{ end }}}} GROUP BY ALL
"
        ),
    );
    p.write(
        &format!("tables/{dataset}/latest.yml"),
        &format!(
            "name: {dataset}.latest
schedule: daily
strategy: replace
start: 2024-01-01
export:
  - {{to: redis, key: [user_id]}}
  - {{to: postgres, key: [user_id]}}
sql: SELECT user_id, max(ts) AS last_seen FROM raw.events WHERE ts < {{{{ end }}}} AND user_id NOT IN (SELECT user_id FROM raw.gone) GROUP BY ALL
"
        ),
    );
    p.write(
        "tables/raw/gone.yml",
        "name: raw.gone\nkind: source\nfreshness: {method: always}\n",
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-04 00:00:00", 3);
    p.sql("CREATE TABLE raw.gone (user_id BIGINT)");
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

#[test]
fn append_and_replace_exports_keep_redis_and_postgres_equal_to_the_table() {
    let dataset = unique("exp");
    let schema = unique("online");
    let mut redis = clear_redis(&format!("{dataset}.daily"));
    clear_redis(&format!("{dataset}.latest"));
    let p = export_project(&dataset, &schema);
    let run = p.cli(&["run", "--now", NOW, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let exports: Vec<_> = run.json()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "export")
        .cloned()
        .collect();
    assert_eq!(exports.len(), 4, "one export run per store per table run");

    let stored: std::collections::HashMap<String, String> = redis
        .hgetall(format!("{dataset}.daily:2024-01-02:2"))
        .unwrap();
    assert_eq!(stored.get("events").map(String::as_str), Some("24"));
    let keys: Vec<String> = redis.keys(format!("{dataset}.daily:*")).unwrap();
    assert_eq!(keys.len(), 9, "3 days × 3 users");
    assert_eq!(pg_rows(&schema, &format!("{dataset}_daily")).len(), 9);

    p.sql("DELETE FROM raw.events WHERE user_id = 2 AND ts >= TIMESTAMP '2024-01-02' AND ts < TIMESTAMP '2024-01-02 12:00:00'");
    let backfill = p.cli(&[
        "backfill",
        &format!("{dataset}.daily"),
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-03",
        "--now",
        NOW,
    ]);
    assert_eq!(backfill.code, 0, "{}", backfill.stdout);
    let stored: std::collections::HashMap<String, String> = redis
        .hgetall(format!("{dataset}.daily:2024-01-02:2"))
        .unwrap();
    assert_eq!(
        stored.get("events").map(String::as_str),
        Some("12"),
        "the backfill re-exported the interval"
    );
    assert!(pg_rows(&schema, &format!("{dataset}_daily"))
        .contains(&"{\"day\":\"2024-01-02\",\"user_id\":2,\"events\":12}".to_string()));
    let lookup = p.cli(&[
        "lookup",
        &format!("{dataset}.daily"),
        "2024-01-02",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(
        (lookup.code, lookup.json()["events"].clone()),
        (0, "12".into())
    );
    assert_eq!(
        p.cli(&["lookup", &format!("{dataset}.daily"), "2030-01-01", "9"])
            .code,
        1
    );

    assert_eq!(pg_rows(&schema, &format!("{dataset}_latest")).len(), 3);
    p.sql("INSERT INTO raw.gone VALUES (3)");
    let later = "2024-01-05T00:00:00Z";
    p.cli(&[
        "source",
        "mark",
        "raw.events",
        "--through",
        later,
        "--now",
        later,
    ]);
    assert_eq!(p.cli(&["run", "--now", later]).code, 0);
    let keys: Vec<String> = redis.keys(format!("{dataset}.latest:*")).unwrap();
    assert_eq!(
        keys.len(),
        2,
        "the replace export deleted the vanished key: {keys:?}"
    );
    assert_eq!(pg_rows(&schema, &format!("{dataset}_latest")).len(), 2);
    let _ = std::process::Command::new("psql")
        .args([PG, "-c", &format!("DROP SCHEMA {schema} CASCADE")])
        .output();
}

#[test]
fn a_failed_export_is_retried_without_rerunning_the_table() {
    let dataset = unique("retry");
    let p = TestProject::new();
    p.write(
        "derived.yml",
        "stores:\n  redis: {url: 'redis://127.0.0.1:1'}\n",
    );
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write(
        &format!("tables/{dataset}/latest.yml"),
        &format!("name: {dataset}.latest\nschedule: daily\nstart: 2024-01-01\nexport:\n  - {{to: redis, key: [user_id]}}\nsql: SELECT user_id, count(*) AS n FROM raw.events GROUP BY ALL\n"),
    );
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-02 00:00:00", 2);
    p.cli(&[
        "source",
        "mark",
        "raw.events",
        "--through",
        NOW,
        "--now",
        NOW,
    ]);
    let first = p.cli(&["run", "--now", NOW, "--format", "json"]).json();
    let actions: Vec<(String, String)> = first["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("create".to_string(), "success".to_string()),
            ("export".to_string(), "failed".to_string())
        ]
    );

    let mut redis = clear_redis(&format!("{dataset}.latest"));
    p.write(
        "derived.yml",
        "stores:\n  redis: {url: 'redis://127.0.0.1:6379'}\n",
    );
    let retry = p.cli(&["run", "--now", NOW, "--format", "json"]).json();
    let actions: Vec<&str> = retry["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["export"], "only the export runs again");
    let stored: std::collections::HashMap<String, String> =
        redis.hgetall(format!("{dataset}.latest:1")).unwrap();
    assert_eq!(stored.get("n").map(String::as_str), Some("24"));
}
