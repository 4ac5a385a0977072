//! `derived validate` and `derived dag` through the CLI.

mod common;

use clap::Parser;
use derived::cli::{self, Cli};
use std::path::Path;

fn cli_at(root: &Path, args: &[&str]) -> (String, u8) {
    let mut all = vec!["derived", "--project", root.to_str().unwrap()];
    all.extend_from_slice(args);
    let outcome = cli::run(Cli::try_parse_from(&all).unwrap()).unwrap();
    (outcome.stdout, outcome.code)
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_example_warehouse_validates() {
    let (out, code) = cli_at(repo(), &["validate", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["ok"], true);
    assert!(json["tables"].as_u64().unwrap() >= 12);
    assert_eq!(json["sources"], 4);
}

/// The BigQuery and PostgreSQL variants are the same warehouse in another
/// dialect: they validate cleanly in it and have the same DAG.
#[test]
fn the_example_variants_validate_in_their_dialects_with_the_same_dag() {
    let dag = |root: &std::path::Path| {
        let (out, code) = cli_at(root, &["dag", "--format", "json"]);
        assert_eq!(code, 0, "{out}");
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        (json["nodes"].clone(), json["edges"].clone())
    };
    for variant in ["bigquery", "postgres"] {
        let root = repo().join("examples").join(variant);
        let (out, code) = cli_at(&root, &["validate", "--format", "json"]);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(code, 0, "{out}");
        assert_eq!(json["warnings"], serde_json::json!([]), "{variant}: {out}");
        assert_eq!(dag(&root), dag(repo()), "{variant}");
    }
}

#[test]
fn the_example_dag_has_the_expected_edges() {
    let (out, code) = cli_at(repo(), &["dag", "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let edges: Vec<(String, String)> = json["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |from: &str, to: &str| edges.contains(&(from.to_string(), to.to_string()));
    assert!(has("raw.messages", "hourly.guild_messages"));
    assert!(has("hourly.guild_messages", "core.daily_guild_activity"));
    assert!(has("hourly.guild_voice", "core.daily_guild_activity"));
    assert!(
        has(
            "core.user_daily_activity",
            "engagement.rolling_active_users"
        ),
        "sql_file tables have edges"
    );
    assert!(has(
        "core.user_daily_activity",
        "engagement.weekly_user_engagement"
    ));
    assert!(has(
        "core.daily_guild_activity",
        "engagement.monthly_guild_summary"
    ));
    assert!(has("core.dim_users", "mart.user_profile"));
    assert!(!has("core.dim_users", "core.dim_users"));
    let node = |name: &str| {
        json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(node("raw.messages")["kind"], "source");
    assert_eq!(node("core.dim_users")["strategy"], "replace");

    let (selected, _) = cli_at(
        repo(),
        &[
            "dag",
            "--format",
            "json",
            "--select",
            "+engagement.rolling_active_users",
        ],
    );
    let selected: serde_json::Value = serde_json::from_str(&selected).unwrap();
    let names: Vec<&str> = selected["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"raw.messages") && names.contains(&"engagement.rolling_active_users"));
    assert!(!names.contains(&"mart.user_profile"));
    let (dot, _) = cli_at(repo(), &["dag", "--format", "dot"]);
    assert!(dot.contains("\"raw.messages\" -> \"hourly.guild_messages\""));
    let (mermaid, _) = cli_at(
        repo(),
        &["dag", "--format", "mermaid", "--select", "tag:core"],
    );
    assert!(mermaid.starts_with("flowchart LR"));
}

#[test]
fn every_kind_of_error_is_reported_in_one_run_with_its_position() {
    let root = repo().join("tests/fixtures/invalid");
    let (out, code) = cli_at(&root, &["validate", "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found: Vec<(String, u64, u64, String)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let file = e["file"]
                .as_str()
                .unwrap()
                .trim_start_matches("tables/")
                .to_string();
            (
                file,
                e["line"].as_u64().unwrap(),
                e["column"].as_u64().unwrap(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("append_no_time.yml", 3, 11, "missing-time-column"),
        ("bad_duration.yml", 4, 9, "invalid-duration"),
        ("bad_schedule.yml", 2, 11, "invalid-schedule"),
        ("cycle_a.yml", 4, 20, "cycle"),
        ("duplicate_b.yml", 1, 7, "duplicate-name"),
        ("merge_no_key.yml", 3, 11, "missing-unique-key"),
        ("missing_key.yml", 1, 1, "missing-key"),
        ("sql_file.sql", 2, 1, "sql-syntax"),
        ("sql_inline.yml", 9, 3, "sql-syntax"),
        ("template_error.yml", 7, 18, "template-error"),
        ("unknown_key.yml", 4, 1, "unknown-key"),
        ("unknown_reference.yml", 6, 8, "unknown-reference"),
        ("yaml_syntax.yml", 4, 1, "yaml-syntax"),
    ];
    let expected: Vec<(String, u64, u64, String)> = expected
        .iter()
        .map(|(f, l, c, code)| (f.to_string(), *l, *c, code.to_string()))
        .collect();
    assert_eq!(found, expected, "{out}");
    let message = |code: &str| {
        json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["code"] == code)
            .unwrap()
            .clone()
    };
    assert!(message("unknown-key")["help"]
        .as_str()
        .unwrap()
        .contains("did you mean `schedule`"));
    assert!(message("unknown-reference")["help"]
        .as_str()
        .unwrap()
        .contains("raw.events"));
    assert!(message("cycle")["message"]
        .as_str()
        .unwrap()
        .contains("cyc.a -> cyc.b -> cyc.a"));
    assert!(message("invalid-schedule")["help"]
        .as_str()
        .unwrap()
        .contains("daily"));
}

#[test]
fn text_diagnostics_show_the_source_line_and_a_caret() {
    let root = repo().join("tests/fixtures/invalid");
    let (out, _) = cli_at(&root, &["validate"]);
    assert!(out.contains("error[unknown-reference]"), "{out}");
    assert!(out.contains("tables/unknown_reference.yml:6:8"), "{out}");
    assert!(out.contains("FROM raw.evnts"), "{out}");
    assert!(out.contains("^"), "{out}");
}

#[test]
fn validate_runs_as_a_process_and_exits_1_on_problems() {
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_derived"))
        .args(["validate", "--project"])
        .arg(repo().join("tests/fixtures/invalid"))
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_derived"))
        .args(["validate", "--project"])
        .arg(repo())
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}
