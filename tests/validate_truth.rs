//! `derived validate` tells the truth on real SQL (SPEC §10.1, §6, §3): names
//! follow the dialect, real BigQuery SQL parses, syntax errors are errors,
//! governance fails closed, lineage follows the columns the SQL produces, one
//! bad key does not hide the rest, template errors name the variable, and zero
//! durations mean none.

mod common;

use common::{Output, TestProject};
use serde_json::Value;

fn validate(project: &TestProject) -> (Value, u8) {
    let out = project.cli(&["validate", "--format", "json"]);
    (out.json(), out.code)
}

fn codes(diagnostics: &Value) -> Vec<String> {
    diagnostics
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

fn find<'a>(diagnostics: &'a Value, code: &str) -> &'a Value {
    diagnostics
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {diagnostics:#}"))
}

const BIGQUERY: &str = "warehouse: {type: bigquery, project: analytics-prod, location: US}\n";

/// A source in another project, spelled with capitals as BigQuery keeps it.
const INSTALLS: &str = "name: ext-prod.app_store.p_Installs_app_version_v1
kind: source
freshness: {method: marks}
columns:
  - {name: install_date, type: DATE}
  - {name: app_version, type: STRING}
  - {name: installs, type: INT64}
";

#[test]
fn bigquery_names_keep_their_case_everywhere() {
    let project = TestProject::new();
    project
        .write("derived.yml", BIGQUERY)
        .write("tables/installs.yml", INSTALLS)
        .write(
            "tables/daily.yml",
            "name: reporting.Daily_Installs
schedule: daily
start: 2024-01-01
sql: |
  SELECT install_date, SUM(installs) AS installs
  FROM `ext-prod.app_store.p_Installs_app_version_v1`
  GROUP BY install_date
",
        )
        .write(
            "tables/weekly.yml",
            "name: reporting.Weekly_Installs
schedule: weekly
start: 2024-01-01
sql: SELECT SUM(installs) AS installs FROM reporting.Daily_Installs
",
        );
    let (json, code) = validate(&project);
    assert_eq!(code, 0, "{json:#}");
    let dag = project.cli(&["dag", "--format", "json"]).json();
    let edges: Vec<(String, String)> = dag["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().into(),
                e["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        edges,
        [
            (
                "ext-prod.app_store.p_Installs_app_version_v1".to_string(),
                "reporting.Daily_Installs".to_string()
            ),
            (
                "reporting.Daily_Installs".to_string(),
                "reporting.Weekly_Installs".to_string()
            ),
        ]
    );
    let plan = project.cli(&[
        "source",
        "mark",
        "ext-prod.app_store.p_Installs_app_version_v1",
        "--through",
        "2024-01-03T00:00:00Z",
        "--now",
        "2024-01-03T00:00:00Z",
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    let plan = project
        .cli(&["plan", "--format", "json", "--now", "2024-01-03T00:00:00Z"])
        .json();
    assert_eq!(
        plan["actions"][0]["table"], "reporting.Daily_Installs",
        "{plan:#}"
    );
}

#[test]
fn a_bigquery_name_in_another_case_is_another_table_and_the_error_says_so() {
    let project = TestProject::new();
    project
        .write("derived.yml", BIGQUERY)
        .write("tables/installs.yml", INSTALLS)
        .write(
            "tables/daily.yml",
            "name: reporting.daily
schedule: daily
start: 2024-01-01
sql: |
  SELECT install_date, installs
  FROM `ext-prod.app_store.p_installs_app_version_v1`
",
        );
    let (json, code) = validate(&project);
    assert_eq!(code, 1, "{json:#}");
    let error = find(&json["errors"], "unknown-reference");
    assert_eq!(error["file"], "tables/daily.yml");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(6), Some(8)),
        "{error:#}"
    );
    let help = error["help"].as_str().unwrap();
    assert!(
        help.contains("did you mean `ext-prod.app_store.p_Installs_app_version_v1`")
            && help.contains("case-sensitive on BigQuery"),
        "{help}"
    );
}

#[test]
fn duckdb_matches_names_in_any_case_and_shows_the_definition_spelling() {
    let project = TestProject::new();
    project
        .write(
            "tables/raw.yml",
            "name: raw.Events\nkind: source\nfreshness: {method: marks}\ncolumns: [{name: ts, type: TIMESTAMP}]\n",
        )
        .write(
            "tables/t.yml",
            "name: core.counts\nschedule: daily\nstart: 2024-01-01\nsql: SELECT count(*) AS n FROM RAW.events JOIN \"raw\".\"EVENTS\" USING (ts)\n",
        );
    let (json, code) = validate(&project);
    assert_eq!(code, 0, "{json:#}");
    let dag = project.cli(&["dag", "--format", "json"]).json();
    assert_eq!(
        dag["edges"],
        serde_json::json!([{"from": "raw.Events", "to": "core.counts"}])
    );
    let log = project.cli(&["log", "CORE.COUNTS"]);
    assert_eq!(log.code, 0, "{}", log.stdout);
}

#[test]
fn typed_array_literals_shifts_and_adjacent_strings_parse_on_bigquery() {
    let project = TestProject::new();
    project.write("derived.yml", BIGQUERY).write("tables/installs.yml", INSTALLS).write(
        "tables/metrics.yml",
        r#"name: reporting.metrics
schedule: daily
start: 2024-01-01
columns:
  - {name: app_version}
  - {name: metrics}
  - {name: buckets}
  - {name: empty}
  - {name: flags}
  - {name: path}
sql: |
  SELECT
    app_version,
    ARRAY<STRUCT<metric STRING, value ARRAY<STRUCT<key STRING, value INT64>>>>[
      ('installs', [('total', installs)])
    ] AS metrics,
    ARRAY<STRUCT<key STRING, value FLOAT64>>[('0.1', installs * 0.1), ('0.5', installs * 0.5)] AS buckets,
    ARRAY<
      STRUCT<key STRING, value INT64>
    >[] AS empty,
    (1 << 0) | (installs >> (8 - 2)) AS flags,
    "/apps" "/installs" AS path
  FROM `ext-prod.app_store.p_Installs_app_version_v1`
  WHERE install_date >= {{ start_date }}
"#,
    );
    let (json, code) = validate(&project);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(
        json["warnings"],
        serde_json::json!([]),
        "no fallback, no column mismatch"
    );
    let lineage = project.cli(&["lineage", "reporting.metrics.flags", "--format", "json"]);
    assert_eq!(lineage.code, 0, "{}", lineage.stdout);
    assert_eq!(
        lineage.json()["upstream"],
        serde_json::json!(["ext-prod.app_store.p_Installs_app_version_v1.installs"])
    );
}

const USERS: &str = "name: raw.u
kind: source
freshness: {method: always}
columns:
  - {name: user_id, type: BIGINT}
  - {name: email, type: VARCHAR, policy: pii}
";

const POLICIES: &str = "policies:\n  pii: {readers: [privacy]}\nprivatizers: [sha256]\n";

#[test]
fn a_syntax_error_duckdb_rejects_is_an_error_at_its_position() {
    let project = TestProject::new();
    project.write("tables/u.yml", USERS).write(
        "tables/t.yml",
        "name: core.t\nschedule: daily\nstart: 2024-01-01\nsql: |\n  SELECT user_id\n  FROM raw.u WHERE WHERE user_id > 1\n",
    );
    let (json, code) = validate(&project);
    assert_eq!(code, 1, "{json:#}");
    let error = find(&json["errors"], "sql-syntax");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(6), Some(20)),
        "{error:#}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("WHERE"),
        "{error:#}"
    );
}

#[test]
fn duckdb_sql_sqlparser_cannot_read_still_has_its_tables_and_governance_fails_closed() {
    let project = TestProject::new();
    let table = |sample: &str| {
        format!("name: core.contacts\nschedule: daily\nstart: 2024-01-01\nreaders: [analysts]\nsql: SELECT email AS contact, user_id FROM raw.u {sample}\n")
    };
    project
        .write("derived.yml", POLICIES)
        .write("tables/u.yml", USERS)
        .write("tables/t.yml", &table(""));
    let (parsed, code) = validate(&project);
    assert_eq!(code, 1, "{parsed:#}");
    assert!(codes(&parsed["errors"]).contains(&"policy-exposed".to_string()));

    project.write("tables/t.yml", &table("USING SAMPLE 100%"));
    let (json, code) = validate(&project);
    assert_eq!(code, 1, "validate must refuse: {json:#}");
    let error = find(&json["errors"], "policy-exposed");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("readers `analysts` may not see `pii`"),
        "{message}"
    );
    assert!(message.contains("lineage unknown"), "{message}");
    assert!(
        error["help"].as_str().unwrap().contains("lineage known"),
        "{error:#}"
    );
    assert!(
        message.contains("raw.u.email → core.contacts"),
        "DuckDB's parser found the read: {message}"
    );
    let warning = find(&json["warnings"], "sql-fallback");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("DuckDB's parser"),
        "{warning:#}"
    );
}

#[test]
fn lineage_follows_the_columns_the_sql_produces() {
    let project = TestProject::new();
    project
        .write(
            "tables/orders.yml",
            "name: raw.orders\nkind: source\nfreshness: {method: always}\ncolumns:\n  - {name: customer_id}\n  - {name: amount}\n",
        )
        .write(
            "tables/customers.yml",
            "name: core.customers
schedule: daily
start: 2024-01-01
columns:
  - {name: customer_id}
  - {name: total_order_amount}
sql: |
  with orders as (select customer_id, amount from raw.orders),
  final as (
    select customer_id, sum(amount) as customer_lifetime_value
    from orders group by customer_id
  )
  select * from final
",
        )
        .write(
            "tables/top.yml",
            "name: mart.top\nschedule: daily\nstart: 2024-01-01\nsql: SELECT * FROM core.customers WHERE customer_lifetime_value > 100\n",
        );
    let (json, code) = validate(&project);
    assert_eq!(code, 0, "{json:#}");
    let not_produced = find(&json["warnings"], "column-not-produced");
    assert!(not_produced["message"]
        .as_str()
        .unwrap()
        .contains("total_order_amount"));
    assert_eq!(not_produced["line"], 6, "{not_produced:#}");
    let not_declared = find(&json["warnings"], "column-not-declared");
    assert!(not_declared["message"]
        .as_str()
        .unwrap()
        .contains("customer_lifetime_value"));

    let lineage = project.cli(&[
        "lineage",
        "core.customers.customer_lifetime_value",
        "--format",
        "json",
    ]);
    assert_eq!(lineage.code, 0, "{}", lineage.stdout);
    let json = lineage.json();
    assert_eq!(json["upstream"], serde_json::json!(["raw.orders.amount"]));
    assert_eq!(
        json["downstream"],
        serde_json::json!(["mart.top.customer_lifetime_value"])
    );

    let Output { stdout, code } = project.cli(&["lineage", "core.customers.no_such_column"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("customer_id, customer_lifetime_value"),
        "{stdout}"
    );
}

#[test]
fn a_definition_with_a_bad_key_stays_in_the_dag() {
    let project = TestProject::new();
    project
        .write(
            "tables/messages.yml",
            "name: raw.messages\nkind: source\nfreshness: {method: always}\n",
        )
        .write(
            "tables/broken.yml",
            "name: core.broken\nschedule: daily\nstrategy: apend\nstart: 2024-01-01\nsql: SELECT * FROM raw.mesages\n",
        )
        .write(
            "tables/reader.yml",
            "name: mart.reader\nschedule: daily\nstart: 2024-01-01\nsql: SELECT * FROM core.broken\n",
        );
    let (json, code) = validate(&project);
    assert_eq!(code, 1);
    let errors = json["errors"].as_array().unwrap();
    let summary: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            (
                e["table"].as_str().unwrap_or("").to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("core.broken".to_string(), "invalid-strategy".to_string()),
            ("core.broken".to_string(), "unknown-reference".to_string()),
        ],
        "{json:#}"
    );
    assert!(find(&json["errors"], "invalid-strategy")["help"]
        .as_str()
        .unwrap()
        .contains("append"));
    assert!(find(&json["errors"], "unknown-reference")["help"]
        .as_str()
        .unwrap()
        .contains("raw.messages"));
}

#[test]
fn template_errors_name_the_undefined_variable() {
    let project = TestProject::new();
    project
        .write("derived.yml", "vars: {min_events: 5}\n")
        .write("tables/u.yml", USERS)
        .write(
            "tables/a.yml",
            "name: core.a\nschedule: daily\nstart: 2024-01-01\nsql: SELECT * FROM raw.u WHERE user_id > {{ no_such_variable }}\n",
        )
        .write(
            "tables/b.yml",
            "name: core.b\nschedule: daily\nstart: 2024-01-01\nsql: SELECT * FROM raw.u WHERE user_id > {{ strat }}\n",
        )
        .write(
            "tables/c.yml",
            "name: core.c\nschedule: daily\nstart: 2024-01-01\nsql: SELECT * FROM raw.u WHERE user_id > {{ min_events }}\n",
        );
    let (json, code) = validate(&project);
    assert_eq!(code, 1);
    let message = |table: &str| {
        json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["table"] == table)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        message("core.a").contains("`no_such_variable` is undefined"),
        "{json:#}"
    );
    assert!(
        message("core.b").contains("did you mean `start`?"),
        "{json:#}"
    );
    assert!(message("core.c").contains("var('min_events')"), "{json:#}");
}

#[test]
fn zero_durations_mean_none() {
    let project = TestProject::new();
    project.write(
        "tables/raw.yml",
        "name: raw.events\nkind: source\ntime_column: ts\nfreshness: {method: max_time, lag: 0h}\n",
    );
    project.write(
        "tables/stream.yml",
        "name: raw.live
kind: source
stream: {url: 'nats://127.0.0.1:4222', stream: LIVE, subjects: [live.>], event_id: id, event_time: ts, lateness: 0s}
columns:
  - {name: id, type: VARCHAR}
  - {name: ts, type: TIMESTAMP}
",
    );
    let (json, code) = validate(&project);
    assert_eq!(code, 0, "{json:#}");
    project.write(
        "tables/t.yml",
        "name: core.t\nschedule: daily\nstart: 2024-01-01\nwindow: 0d\nsql: SELECT 1 AS x FROM raw.events\n",
    );
    let (json, code) = validate(&project);
    assert_eq!(code, 1, "a window of zero reads nothing: {json:#}");
    assert!(find(&json["errors"], "invalid-duration")["message"]
        .as_str()
        .unwrap()
        .contains("longer than zero"));
}
