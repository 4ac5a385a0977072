//! End-to-end: lineage on the example warehouse, run lineage, and the catalog site in a browser.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXAMPLE_NOW: &str = "2024-02-05T02:00:00Z";

/// A copy of the repository's example project, built once.
fn example() -> TestProject {
    let p = example_project();
    let run = p.cli(&["run", "--now", EXAMPLE_NOW]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    p
}

fn names(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn table_and_column_lineage_of_the_example_warehouse() {
    let p = example();
    let table = p
        .cli(&["lineage", "core.dim_users", "--format", "json"])
        .json();
    let upstream = names(&table["upstream"]);
    for expected in [
        "raw.users",
        "core.user_message_stats",
        "core.user_voice_firsts",
        "core.guild_membership",
        "raw.messages",
        "raw.voice_sessions",
    ] {
        assert!(
            upstream.contains(&expected.to_string()),
            "{expected} in {upstream:?}"
        );
    }
    assert_eq!(names(&table["downstream"]), ["mart.user_profile"]);
    let direct = p
        .cli(&[
            "lineage",
            "core.dim_users",
            "--upstream",
            "--depth",
            "1",
            "--format",
            "json",
        ])
        .json();
    assert!(!names(&direct["upstream"]).contains(&"raw.messages".to_string()));
    assert!(names(&direct["downstream"]).is_empty());

    let column = p
        .cli(&[
            "lineage",
            "mart.user_profile.voice_minutes",
            "--upstream",
            "--format",
            "json",
        ])
        .json();
    let sources = names(&column["upstream"]);
    for expected in [
        "core.dim_users.voice_minutes",
        "core.user_voice_firsts.voice_seconds",
        "raw.voice_sessions.started_at",
        "raw.voice_sessions.ended_at",
    ] {
        assert!(
            sources.contains(&expected.to_string()),
            "{expected} in {sources:?}"
        );
    }
    assert!(
        !sources.iter().any(|s| s.starts_with("raw.messages")),
        "{sources:?}"
    );
    let email = p
        .cli(&[
            "lineage",
            "raw.users.email",
            "--downstream",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(names(&email["downstream"]), ["core.dim_users.email"]);
}

#[test]
fn run_lineage_follows_upstream_runs_recursively() {
    let p = example();
    let runs = p.log(Some("mart.user_profile"));
    let run_id = runs[0]["run_id"].as_i64().unwrap().to_string();
    let tree = p
        .cli(&["lineage", "--run", &run_id, "--format", "json"])
        .json();
    assert_eq!(tree["table"], "mart.user_profile");
    let dim = tree["upstream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["table"] == "core.dim_users")
        .unwrap();
    assert_eq!(dim["status"], "success");
    let users = dim["upstream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["table"] == "raw.users")
        .unwrap();
    assert!(
        users["run_id"].is_null() && users["watermark"].is_string(),
        "sources end the tree: {users}"
    );
    let text = p.cli(&["lineage", "--run", &run_id]).stdout;
    assert!(text.contains("  core.dim_users run "), "{text}");
}

fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "the browser test needs Debian's chromium (apt-get install chromium); .ci/run installs it"
    );
    path
}

fn browse(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_catalog_site_searches_and_renders_table_pages_in_a_browser() {
    let p = example();
    let site = p.root().join("site");
    let out = p.cli(&[
        "docs",
        "--out",
        site.to_str().unwrap(),
        "--now",
        EXAMPLE_NOW,
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let index = format!("file://{}/index.html?q=active_users", site.display());
    let dom = browse(&["--dump-dom"], &index);
    assert!(
        dom.contains("href=\"tables/core.daily_active_users.html\""),
        "the search lists the table: {dom:.2000}"
    );
    assert!(dom.contains("href=\"tables/engagement.monthly_active_users.html\""));
    assert!(
        !dom.contains("<li><a href=\"tables/hourly.guild_voice.html\""),
        "only matches are listed"
    );

    let page = format!("file://{}/tables/core.dim_users.html", site.display());
    let dom = browse(&["--dump-dom"], &page);
    assert!(dom.contains("<svg class=\"graph\""), "the graph rendered");
    assert!(
        dom.contains("<table class=\"columns\">") && dom.contains("<td>voice_minutes</td>"),
        "the column table rendered"
    );
    assert!(
        dom.contains("core.user_voice_firsts</a>.voice_seconds"),
        "column lineage is shown"
    );
    assert!(dom.contains("class=\"state fresh\""), "freshness is shown");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-dim_users.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1400",
        ],
        &page,
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot kept at {}",
        shot.display()
    );
}
