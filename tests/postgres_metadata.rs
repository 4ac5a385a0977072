//! The metadata log in PostgreSQL (the machine's server at 127.0.0.1:5432): the
//! example warehouse builds with it exactly as with the embedded log, and a
//! store of an older schema version is migrated in place. A missing server
//! fails these tests; it never skips them.

mod common;

use common::*;
use derived::metadata::postgres::{PostgresMetadata, MIGRATIONS};
use derived::metadata::MetadataStore;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const NOW: &str = "2024-02-05T02:00:00Z";

/// A schema of its own per test, dropped afterwards.
struct Schema(String);

impl Schema {
    fn new(purpose: &str) -> Schema {
        Schema(format!("derived_test_{purpose}_{}", std::process::id()))
    }

    fn sql(&self, sql: &str) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
                .await
                .expect("PostgreSQL at 127.0.0.1:5432 (database test) is required");
            tokio::spawn(connection);
            client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{e:?}\n{sql}"));
        });
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        self.sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
    }
}

/// `(table, action, interval_start, interval_end, status)` of every run, sorted.
fn runs(p: &TestProject) -> Vec<(String, String, String, String, String)> {
    let mut runs: Vec<_> = p
        .log(None)
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (
                text("table_name"),
                text("action"),
                text("interval_start"),
                text("interval_end"),
                text("status"),
            )
        })
        .collect();
    runs.sort();
    runs
}

#[test]
fn the_example_builds_with_a_postgresql_log_as_with_the_embedded_one() {
    let schema = Schema::new("example");
    schema.sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", schema.0));
    let embedded = example_project();
    assert_eq!(embedded.cli(&["run", "--now", NOW]).code, 0);

    let p = example_project();
    let config = std::fs::read_to_string(p.root().join("derived.yml")).unwrap();
    p.write(
        "derived.yml",
        &config.replace(
            "metadata: {type: duckdb, path: .derived/metadata.duckdb}",
            &format!(
                "metadata: {{type: postgres, url: '{PG}', schema: {}}}",
                schema.0
            ),
        ),
    );
    let out = p.cli(&["--format", "json", "run", "--now", NOW]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        !p.root().join(".derived/metadata.duckdb").exists(),
        "the log went to PostgreSQL"
    );
    assert_eq!(runs(&p), runs(&embedded));

    let plan = p.cli(&["--format", "json", "plan", "--now", NOW]).json();
    assert_eq!(plan["actions"], serde_json::json!([]), "nothing left to do");
    let status = p.cli(&["--format", "json", "status", "--now", NOW]).json();
    assert!(status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["state"] == "fresh"));
    for table in [
        "core.daily_active_users",
        "core.user_voice_firsts",
        "mart.guild_health",
    ] {
        let sql = format!("SELECT * FROM {table}");
        assert_eq!(p.rows(&sql), embedded.rows(&sql), "{table}");
    }

    // A rebuild is a rewrite the PostgreSQL snapshot reports: downstream repairs follow.
    let rebuilt = p.cli(&[
        "--format",
        "json",
        "rebuild",
        "core.user_daily_activity",
        "--downstream",
        "--now",
        NOW,
    ]);
    assert_eq!(rebuilt.code, 0, "{}", rebuilt.stdout);
    let actions: Vec<String> = rebuilt.json()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["action"].as_str().unwrap(),
                r["table"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        actions.contains(&"rebuild core.user_daily_activity".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.starts_with("repair ")),
        "{actions:?}"
    );
}

#[test]
fn an_older_store_is_migrated_in_place_with_its_history() {
    let schema = Schema::new("migrate");
    let first = MIGRATIONS[0].1;
    schema.sql(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; SET search_path TO {s};
         CREATE TABLE schema_version (version BIGINT NOT NULL);
         {first};
         INSERT INTO schema_version VALUES (1);
         INSERT INTO runs (table_name, env, action, interval_start, interval_end, status, started_at, finished_at,
                           fingerprint, triggered_by, as_of, rows_written, upstream_runs)
         VALUES ('core.t', 'prod', 'create', '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', 'success',
                 '2024-01-02T00:05:00Z', '2024-01-02T00:06:00Z', 'abc', 'scheduler', '2024-01-02T00:05:00Z', 42, '[]');",
        s = schema.0
    ));

    let store = PostgresMetadata::connect(PG, &schema.0).unwrap();
    assert_eq!(store.version().unwrap(), MIGRATIONS.last().unwrap().0);
    let log = store.log("prod", None, None, 10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].table_name, "core.t");
    assert_eq!(log[0].rows_written, Some(42));
    assert_eq!(log[0].bytes_processed, None);
    let snapshot = store
        .snapshot("prod", derived::time::Duration::from_seconds(0))
        .unwrap();
    let table = &snapshot.tables[&derived::project::TableName::from_reference("core.t")];
    assert_eq!(table.coverage["abc"].ranges().len(), 1);

    // Opening again (a second worker) changes nothing.
    drop(store);
    let again = PostgresMetadata::connect(PG, &schema.0).unwrap();
    assert_eq!(again.log("prod", None, None, 10).unwrap().len(), 1);

    schema.sql(&format!(
        "INSERT INTO {}.schema_version VALUES (99)",
        schema.0
    ));
    let refused = PostgresMetadata::connect(PG, &schema.0)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        refused.contains("schema version 99") && refused.contains("upgrade derived"),
        "{refused}"
    );
}
