//! End-to-end: definitions from git, `derived ci` shadow builds and diffs, history.

mod common;

use common::*;

const NOW: &str = "2024-01-15T00:00:00Z";

const DAILY_KEYED: &str = "name: daily.counts
schedule: daily
strategy: append
time_column: day
unique_key: [day]
start: 2024-01-01
sql: |
  SELECT CAST(hour AS DATE) AS day, sum(events) AS events, count(*) AS hours
  FROM hourly.counts
  WHERE hour >= {{ start }} AND hour < {{ end }}
  GROUP BY ALL
";

const SUMMARY: &str = "name: mart.summary
schedule: daily
strategy: replace
start: 2024-01-01
sql: SELECT count(*) AS days, sum(events) AS events FROM daily.counts
";

fn commit(p: &TestProject, message: &str) -> String {
    git(p, &["add", "-A"]);
    git(p, &["commit", "-q", "-m", message]);
    git(p, &["rev-parse", "HEAD"])
}

/// A git repository with hourly → daily → summary, built in production.
fn repository() -> TestProject {
    let p = TestProject::new();
    p.write(".gitignore", ".derived/\n");
    p.write("tables/raw/events.yml", EVENTS_SOURCE);
    p.write("tables/hourly/counts.yml", &hourly_counts(""));
    p.write("tables/daily/counts.yml", DAILY_KEYED);
    p.write("tables/mart/summary.yml", SUMMARY);
    git(&p, &["init", "-q", "-b", "main"]);
    git(&p, &["config", "user.email", "ds@example.com"]);
    git(&p, &["config", "user.name", "Data Scientist"]);
    commit(&p, "first tables");
    insert_events(&p, "2024-01-01 00:00:00", "2024-01-15 00:00:00", 3);
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
    p
}

fn prod_state(p: &TestProject) -> (Vec<Vec<Vec<String>>>, usize) {
    let tables = ["hourly.counts", "daily.counts", "mart.summary"]
        .iter()
        .map(|t| p.rows(&format!("SELECT * FROM {t}")))
        .collect();
    (tables, p.log(None).len())
}

fn shadow_schemas(p: &TestProject) -> Vec<String> {
    p.rows("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'shadow_%'")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

#[test]
fn ci_builds_the_changed_table_and_its_downstream_in_a_shadow_and_diffs_it() {
    let p = repository();
    let before = prod_state(&p);
    p.write("tables/daily/counts.yml", &DAILY_KEYED.replace("sum(events) AS events", "CASE WHEN min(hour) >= TIMESTAMP '2024-01-14 00:00:00' THEN 2 * sum(events) ELSE sum(events) END AS events"));
    let head = commit(&p, "double the last day");
    let report_file = p.root().join("report.md");
    let ci = p.cli(&[
        "ci",
        "--base",
        "HEAD~1",
        "--head",
        "HEAD",
        "--last",
        "2d",
        "--now",
        NOW,
        "--report",
        report_file.to_str().unwrap(),
    ]);
    assert_eq!(ci.code, 0, "{}", ci.stdout);
    let report = std::fs::read_to_string(&report_file).unwrap();
    assert_eq!(report, ci.stdout);
    assert!(report.contains("- modified: `daily.counts`"), "{report}");
    assert!(
        report.contains("- downstream, rebuilt: `mart.summary`"),
        "{report}"
    );
    assert!(report.contains("rows: prod 2 → shadow 2"), "{report}");
    assert!(
        report.contains("by key: 0 only in shadow, 0 only in prod, 1 changed"),
        "{report}"
    );
    assert!(
        report.contains("\"events\":144"),
        "the changed row is shown: {report}"
    );
    assert!(
        report.contains("### Impact in production\n\nOnce merged, the next run does 2 action(s) over 15 interval(s).")
            && report.contains("| rebuild | `daily.counts` | 14 | fingerprint changed: definition; changed: daily.counts.events |")
            && report.contains("| repair | `mart.summary` | 1 | upstream daily.counts rewrote"),
        "{report}"
    );

    let shadow = format!("shadow_{}", &head[..7]);
    assert_eq!(
        shadow_schemas(&p),
        [format!("{shadow}__daily"), format!("{shadow}__mart")],
        "only the changed table and its downstream"
    );
    assert_eq!(
        p.rows(&format!(
            "SELECT CAST(day AS VARCHAR), events FROM {shadow}__daily.counts"
        )),
        [["2024-01-13", "72"], ["2024-01-14", "144"]]
    );
    assert_eq!(
        p.rows(&format!("SELECT days, events FROM {shadow}__mart.summary")),
        [["2", "216"]],
        "the summary reads the shadow daily"
    );
    assert_eq!(
        prod_state(&p),
        before,
        "production tables and log are untouched"
    );
    let shadow_log = p.cli(&["log", "--env", &shadow, "--format", "json"]).stdout;
    assert!(
        shadow_log
            .lines()
            .all(|l| l.contains("\"triggered_by\":\"ci\"") && l.contains(&head)),
        "{shadow_log}"
    );

    let cleaned = p.cli(&[
        "ci",
        "--base",
        "HEAD",
        "--head",
        "HEAD",
        "--cleanup",
        "1h",
        "--now",
        "2030-01-01T00:00:00Z",
    ]);
    assert!(
        cleaned
            .stdout
            .contains(&format!("dropped 1 shadow environment(s): {shadow}")),
        "{}",
        cleaned.stdout
    );
    assert!(shadow_schemas(&p).is_empty());
}

#[test]
fn ci_on_an_invalid_change_reports_the_problems_and_builds_nothing() {
    let p = repository();
    p.write(
        "tables/mart/summary.yml",
        &SUMMARY.replace("daily.counts", "daily.countz"),
    );
    commit(&p, "typo");
    let ci = p.cli(&["ci", "--base", "HEAD~1", "--head", "HEAD", "--now", NOW]);
    assert_eq!(ci.code, 1);
    assert!(ci.stdout.contains("Validation failed"), "{}", ci.stdout);
    assert!(
        ci.stdout.contains("unknown-reference")
            && ci.stdout.contains("did you mean `daily.counts`"),
        "{}",
        ci.stdout
    );
    assert!(shadow_schemas(&p).is_empty());
}

#[test]
fn added_and_removed_tables_are_reported_and_docs_changes_build_nothing() {
    let p = repository();
    p.write(
        "tables/daily/counts.yml",
        &DAILY_KEYED.replace(
            "strategy: append",
            "strategy: append\ndescription: Events per day.\nowner: growth",
        ),
    );
    commit(&p, "docs only");
    let docs = p.cli(&["ci", "--base", "HEAD~1", "--now", NOW]);
    assert_eq!(docs.code, 0);
    assert!(docs.stdout.contains("Nothing to build"), "{}", docs.stdout);
    assert!(shadow_schemas(&p).is_empty());

    p.remove("tables/mart/summary.yml");
    p.write("tables/mart/weekly.yml", "name: mart.weekly\nschedule: weekly\nstart: 2024-01-01\nsql: SELECT max(day) AS last_day FROM daily.counts\n");
    let ci = p.cli(&["ci", "--base", "HEAD", "--now", NOW]);
    assert_eq!(ci.code, 0, "{}", ci.stdout);
    assert!(
        ci.stdout.contains("- added: `mart.weekly`"),
        "{}",
        ci.stdout
    );
    assert!(
        ci.stdout.contains("- removed: `mart.summary`"),
        "{}",
        ci.stdout
    );
    assert!(
        ci.stdout.contains("rows: prod – → shadow 1"),
        "{}",
        ci.stdout
    );
}

/// `daily.counts` with a unit test expecting `events` for 2024-01-02.
fn daily_with_test(events: u32) -> String {
    format!(
        "{DAILY_KEYED}tests:
  - name: sums_the_hours_of_the_day
    interval: 2024-01-02
    given:
      hourly.counts:
        - {{hour: \"2024-01-02 00:00:00\", events: 3}}
        - {{hour: \"2024-01-02 05:00:00\", events: 4}}
        - {{hour: \"2024-01-03 00:00:00\", events: 100}}
    expect:
      - {{day: 2024-01-02, events: {events}, hours: 2}}
"
    )
}

#[test]
fn ci_runs_the_unit_tests_of_changed_tables_first_and_a_failure_builds_nothing() {
    let p = repository();
    p.write("tables/daily/counts.yml", &daily_with_test(8));
    p.write(
        "tables/mart/summary.yml",
        &SUMMARY.replace("count(*) AS days", "count(*) AS days_built"),
    );
    commit(&p, "a wrong test");
    let ci = p.cli(&["ci", "--base", "HEAD~1", "--head", "HEAD", "--now", NOW]);
    assert_eq!(ci.code, 1, "{}", ci.stdout);
    assert!(
        ci.stdout.contains("### Unit tests")
            && ci.stdout.contains("| `daily.counts` | `sums_the_hours_of_the_day` | **failed**: 1 missing, 1 unexpected row(s) (tables/daily/counts.yml:")
            && ci.stdout.contains("Unit tests failed: nothing was built."),
        "{}",
        ci.stdout
    );
    assert!(shadow_schemas(&p).is_empty());

    p.write("tables/daily/counts.yml", &daily_with_test(7));
    commit(&p, "the right test");
    let ci = p.cli(&["ci", "--base", "HEAD~1", "--head", "HEAD", "--now", NOW]);
    assert_eq!(ci.code, 0, "{}", ci.stdout);
    assert!(
        ci.stdout.contains("1 test(s): 1 passed, 0 failed")
            && ci
                .stdout
                .contains("| `daily.counts` | `sums_the_hours_of_the_day` | ok |")
            && ci.stdout.contains("Nothing to build"),
        "only the test changed, so it runs and nothing builds: {}",
        ci.stdout
    );

    let ci = p.cli(&["ci", "--base", "HEAD~2", "--head", "HEAD", "--now", NOW]);
    assert_eq!(ci.code, 0, "{}", ci.stdout);
    assert!(
        ci.stdout.contains("1 test(s): 1 passed") && ci.stdout.contains("### Shadow build"),
        "tests pass, then the changed summary builds: {}",
        ci.stdout
    );
}

#[test]
fn rev_reads_definitions_from_a_commit_whatever_the_working_tree_holds() {
    let p = repository();
    p.write(
        "tables/daily/counts.yml",
        "name: daily.counts\nschedule: dayly\n",
    );
    assert_eq!(p.cli(&["validate"]).code, 1);
    let at_head = p.cli(&["validate", "--rev", "HEAD", "--format", "json"]);
    assert_eq!(at_head.code, 0, "{}", at_head.stdout);
    assert_eq!(at_head.json()["tables"], 3);
    let planned = p
        .cli(&["plan", "--rev", "HEAD", "--now", NOW, "--format", "json"])
        .json();
    assert!(planned["actions"].as_array().unwrap().is_empty());
}

#[test]
fn runs_from_a_committed_state_record_the_commit_and_history_shows_it() {
    let p = repository();
    let first = git(&p, &["rev-parse", "HEAD"]);
    assert!(p
        .log(Some("daily.counts"))
        .iter()
        .all(|r| r["git_commit"] == first.as_str()));
    p.write(
        "tables/daily/counts.yml",
        &DAILY_KEYED.replace("count(*) AS hours", "count(*) AS hours, 1 AS version"),
    );
    let second = commit(&p, "add a version column");
    p.write(
        "tables/daily/counts.yml",
        &DAILY_KEYED
            .replace("count(*) AS hours", "count(*) AS hours, 1 AS version")
            .replace(
                "strategy: append",
                "strategy: append\ndescription: Now documented.",
            ),
    );
    commit(&p, "document");
    p.cli(&["run", "--now", NOW]);
    let history = p
        .cli(&["history", "daily.counts", "--format", "json"])
        .json();
    let commits = history["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 3);
    assert_eq!(commits[0]["message"], "document");
    assert_eq!(commits[0]["fingerprint_changed"], false, "{history}");
    assert_eq!(commits[1]["commit"], second.as_str());
    assert_eq!(commits[1]["fingerprint_changed"], true);
    assert_eq!(commits[2]["commit"], first.as_str());
    assert_eq!(commits[2]["author"], "Data Scientist");
    assert!(commits[2]["runs"].as_u64().unwrap() >= 1);
}

#[test]
fn the_ci_workflow_is_valid_yaml_running_the_tested_commands() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let workflow = std::fs::read_to_string(root.join("ci/github-actions.yml")).unwrap();
    let parsed: serde_yaml::Value = serde_yaml::from_str(&workflow).unwrap();
    let steps = &parsed["jobs"]["derived"]["steps"];
    assert!(steps.as_sequence().unwrap().len() >= 3);
    let script = std::fs::read_to_string(root.join("ci/pull-request.sh")).unwrap();
    assert!(workflow.contains("ci/pull-request.sh"));
    for command in ["derived validate", "derived ci --base", "--report"] {
        assert!(script.contains(command), "the script runs `{command}`");
    }
}
