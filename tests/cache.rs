//! The project cache under `.derived/cache/`: an unchanged project loads from
//! it, and any change to what a load reads is seen at once.

mod common;

use common::TestProject;
use derived::app::{self, Settings};
use derived::env::Env;
use derived::project::load::ColumnAnalysis;
use derived::project::TableName;

fn load(p: &TestProject) -> app::Loaded {
    let settings = Settings::new(p.root().to_path_buf(), Env::Prod, None, None);
    app::load(&settings, ColumnAnalysis::WhenGuarded).unwrap()
}

fn upstreams(loaded: &app::Loaded, table: &str) -> Vec<String> {
    let name = loaded.known_name(table).unwrap();
    let table = loaded.project.table(&name).unwrap();
    table.upstreams.iter().map(ToString::to_string).collect()
}

/// The files under `.derived/cache/` whose names start with `prefix`.
fn entries(p: &TestProject, prefix: &str) -> Vec<std::path::PathBuf> {
    let dir = app::cache::folder(p.root());
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.retain(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix));
    entries.sort();
    entries
}

fn cache_entries(p: &TestProject) -> Vec<std::path::PathBuf> {
    entries(p, "project-")
}

fn project() -> TestProject {
    let p = TestProject::new();
    p.write(
        "derived.yml",
        "vars:\n  events: raw.events\n",
    )
    .write(
        "tables/raw/events.yml",
        "name: raw.events\nkind: source\ntime_column: ts\ncolumns: [{name: ts}, {name: user_id}]\n",
    )
    .write(
        "tables/raw/clicks.yml",
        "name: raw.clicks\nkind: source\ntime_column: ts\ncolumns: [{name: ts}, {name: user_id}]\n",
    )
    .write(
        "tables/daily/users.yml",
        "name: daily.users\nschedule: daily\nstart: 2024-01-01\nstrategy: replace\n\
         sql: SELECT count(DISTINCT user_id) AS users FROM {{ var('events') }}\n",
    );
    p
}

#[test]
fn an_unchanged_project_loads_from_the_cache_with_the_same_definitions() {
    let p = project();
    let first = load(&p);
    assert!(!first.from_cache);
    assert_eq!(cache_entries(&p).len(), 1);
    let second = load(&p);
    assert!(second.from_cache, "the second load reads the cache");
    assert_eq!(upstreams(&second, "daily.users"), ["raw.events"]);
    let fingerprint = |l: &app::Loaded| {
        let name = l.known_name("daily.users").unwrap();
        l.project.table(&name).unwrap().fingerprint.clone()
    };
    assert_eq!(fingerprint(&first), fingerprint(&second));
    assert_eq!(first.project.nodes.len(), second.project.nodes.len());
    assert_eq!(
        first
            .dag
            .all_downstream(&TableName::parse("raw.events").unwrap())
            .len(),
        1
    );
    assert_eq!(
        second
            .dag
            .all_downstream(&TableName::parse("raw.events").unwrap())
            .len(),
        1
    );
}

#[test]
fn an_edited_definition_is_seen_at_once() {
    let p = project();
    load(&p);
    p.write(
        "tables/daily/users.yml",
        "name: daily.users\nschedule: daily\nstart: 2024-01-01\nstrategy: replace\n\
         sql: SELECT count(DISTINCT user_id) AS users FROM raw.clicks\n",
    );
    let edited = load(&p);
    assert!(!edited.from_cache);
    assert_eq!(upstreams(&edited, "daily.users"), ["raw.clicks"]);
    // A broken file is an error now, and again from the cache.
    p.write("tables/daily/users.yml", "name: daily.users\nsql: [\n");
    for _ in 0..2 {
        let out = p.cli(&["validate", "--format", "json"]);
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(
            out.json()["errors"][0]["code"],
            "yaml-syntax",
            "{}",
            out.stdout
        );
    }
    assert!(load(&p).project.has_errors());
    assert!(load(&p).from_cache);
}

#[test]
fn a_changed_var_or_derived_yml_is_seen_at_once() {
    let p = project();
    assert_eq!(upstreams(&load(&p), "daily.users"), ["raw.events"]);
    p.write("derived.yml", "vars:\n  events: raw.clicks\n");
    assert_eq!(upstreams(&load(&p), "daily.users"), ["raw.clicks"]);
    // Not a var: the dialect decides how names match.
    p.write(
        "tables/daily/users.yml",
        "name: daily.users\nschedule: daily\nstart: 2024-01-01\nstrategy: replace\n\
         sql: SELECT count(DISTINCT user_id) AS users FROM RAW.Events\n",
    );
    assert_eq!(upstreams(&load(&p), "daily.users"), ["raw.events"]);
    p.write(
        "derived.yml",
        "dialect: bigquery\nvars:\n  events: raw.clicks\n",
    );
    let bigquery = load(&p);
    assert!(!bigquery.from_cache);
    assert!(
        bigquery.project.has_errors(),
        "BigQuery names are case-sensitive"
    );
    p.remove("derived.yml");
    let defaults = load(&p);
    assert!(!defaults.from_cache);
    assert_eq!(upstreams(&defaults, "daily.users"), ["raw.events"]);
}

#[test]
fn added_and_removed_files_and_sql_files_are_seen_at_once() {
    let p = project();
    load(&p);
    p.write(
        "tables/daily/clicks.yml",
        "name: daily.clicks\nschedule: daily\nstart: 2024-01-01\nstrategy: replace\nsql_file: clicks.sql\n",
    )
    .write("tables/daily/clicks.sql", "SELECT count(*) AS clicks FROM raw.clicks\n");
    let added = load(&p);
    assert_eq!(upstreams(&added, "daily.clicks"), ["raw.clicks"]);
    assert!(load(&p).from_cache);
    p.write(
        "tables/daily/clicks.sql",
        "SELECT count(*) AS clicks FROM raw.events\n",
    );
    let edited = load(&p);
    assert!(!edited.from_cache, "an edited sql_file misses the cache");
    assert_eq!(upstreams(&edited, "daily.clicks"), ["raw.events"]);
    p.remove("tables/daily/clicks.sql");
    let missing = load(&p);
    assert!(!missing.from_cache);
    assert!(
        missing.project.has_errors(),
        "a missing sql_file is an error"
    );
    p.remove("tables/daily/clicks.yml");
    let removed = load(&p);
    assert!(!removed.project.has_errors());
    assert!(removed.project.resolve("daily.clicks").is_none());
}

#[test]
fn a_corrupt_or_truncated_cache_is_ignored_and_written_again() {
    let p = project();
    let expected = upstreams(&load(&p), "daily.users");
    let entry = cache_entries(&p).pop().unwrap();
    let bytes = std::fs::read(&entry).unwrap();
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    for broken in [
        flipped,
        bytes[..bytes.len() / 3].to_vec(),
        b"garbage".to_vec(),
        Vec::new(),
    ] {
        std::fs::write(&entry, broken).unwrap();
        let loaded = load(&p);
        assert!(!loaded.from_cache, "a broken entry is not used");
        assert_eq!(upstreams(&loaded, "daily.users"), expected);
        assert_eq!(
            std::fs::read(&entry).unwrap(),
            bytes,
            "the entry is written again"
        );
        assert!(load(&p).from_cache);
    }
}

#[test]
fn only_the_most_recent_entries_are_kept() {
    let p = project();
    for i in 0..12 {
        p.write(
            "derived.yml",
            &format!("vars:\n  events: raw.events\n  n: {i}\n"),
        );
        load(&p);
    }
    assert_eq!(cache_entries(&p).len(), 8);
}

#[test]
fn a_rewrite_of_the_same_size_right_after_a_load_is_seen() {
    let p = project();
    let users = |source: &str| {
        format!(
            "name: daily.users\nschedule: daily\nstart: 2024-01-01\nstrategy: replace\n\
             sql: SELECT count(DISTINCT user_id) AS users FROM {source}\n"
        )
    };
    p.write("tables/daily/users.yml", &users("raw.events"));
    assert_eq!(upstreams(&load(&p), "daily.users"), ["raw.events"]);
    p.write("tables/daily/users.yml", &users("raw.clicks"));
    assert_eq!(upstreams(&load(&p), "daily.users"), ["raw.clicks"]);
}

/// Files older than the stamps' two seconds of doubt are not read on a hit;
/// a diagnostic still shows their text.
#[test]
fn a_project_known_by_its_stamps_reads_texts_only_to_show_them() {
    let p = project();
    p.write(
        "tables/daily/broken.yml",
        "name: daily.broken\nschedule: daily\nstart: 2024-01-01\nstrategy: replace\n\
         sql: SELECT count(*) AS n FROM raw.missing\n",
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let cold = p.cli(&["validate"]);
    assert_eq!(cold.code, 1, "{}", cold.stdout);
    assert!(cold.stdout.contains("raw.missing"), "{}", cold.stdout);
    let warm = p.cli(&["validate"]);
    assert_eq!(warm.stdout, cold.stdout, "the same text, line and column");
    assert!(load(&p).project.has_errors());
    let stamped = load(&p);
    assert!(stamped.from_cache);
    let broken = stamped.known_name("daily.broken").unwrap();
    let file = stamped.project.table(&broken).unwrap().file.clone();
    assert!(stamped
        .project
        .files
        .text(&file)
        .unwrap()
        .contains("raw.missing"));
}

fn log_entries(p: &TestProject) -> Vec<std::path::PathBuf> {
    entries(p, "log-")
}

fn planned(p: &TestProject, now: &str) -> usize {
    let out = p.cli(&["plan", "--now", now, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    out.json()["actions"].as_array().unwrap().len()
}

/// The log's cached snapshot is used only while the log is at its version:
/// every mark and run is seen by the next command, and a damaged entry is
/// read from the log again.
#[test]
fn the_cached_log_follows_every_write_and_survives_damage() {
    let p = common::events_project();
    common::insert_events(&p, "2024-01-01 00:00:00", "2024-01-03 00:00:00", 2);
    p.mark_and_run("raw.events", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z");
    assert_eq!(planned(&p, "2024-01-02T00:00:00Z"), 0);
    assert!(
        !log_entries(&p).is_empty(),
        "a command keeps the log it read"
    );
    p.mark("raw.events", "2024-01-02T06:00:00Z", "2024-01-02T06:00:00Z");
    assert_eq!(planned(&p, "2024-01-02T06:00:00Z"), 1, "the mark is seen");
    p.cli(&["run", "--now", "2024-01-02T06:00:00Z"]);
    assert_eq!(planned(&p, "2024-01-02T06:00:00Z"), 0, "the run is seen");
    for entry in log_entries(&p) {
        std::fs::write(entry, b"damaged").unwrap();
    }
    assert_eq!(planned(&p, "2024-01-02T06:00:00Z"), 0);
    let out = p.cli(&["pause", "hourly.counts"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let status = p.cli(&[
        "status",
        "--format",
        "json",
        "--now",
        "2024-01-02T06:00:00Z",
    ]);
    assert!(status.stdout.contains("paused"), "{}", status.stdout);
}
