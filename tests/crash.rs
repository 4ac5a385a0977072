//! Crash safety: `derived run`, `backfill` and `rebuild` on the example
//! warehouse are killed with SIGKILL at many points; after a restart the
//! warehouse equals a clean build, no log row is left `running`, and no
//! interval of a first build succeeded twice.

mod common;

use common::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const NOW: &str = "2024-02-05T02:00:00Z";

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in walkdir::WalkDir::new(from)
        .into_iter()
        .filter_map(Result::ok)
    {
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn table_names(p: &TestProject) -> Vec<String> {
    let dag = p.cli(&["dag", "--format", "json"]).json();
    dag["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "table")
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

fn contents(p: &TestProject, tables: &[String]) -> HashMap<String, Vec<Vec<String>>> {
    tables
        .iter()
        .map(|t| (t.clone(), p.rows(&format!("SELECT * FROM {t}"))))
        .collect()
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Starts the command and kills it after `delay`; true when it was still running.
fn kill_after(p: &TestProject, args: &[&str], delay: Duration) -> bool {
    let mut child = p
        .process(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

fn assert_recovered(
    p: &TestProject,
    reference: &HashMap<String, Vec<Vec<String>>>,
    tables: &[String],
    first_build: bool,
) {
    let log = p.log(None);
    assert!(
        log.iter().all(|r| r["status"] != "running"),
        "no run is left running"
    );
    assert_eq!(
        &contents(p, tables),
        reference,
        "the warehouse equals a clean build"
    );
    if first_build {
        let mut successes: HashMap<(String, String, String), usize> = HashMap::new();
        for r in log
            .iter()
            .filter(|r| r["status"] == "success" && r["action"] != "export")
        {
            let key = (
                r["table_name"].to_string(),
                r["interval_start"].to_string(),
                r["interval_end"].to_string(),
            );
            *successes.entry(key).or_default() += 1;
        }
        assert!(
            successes.values().all(|&n| n == 1),
            "an interval succeeded twice: {successes:?}"
        );
    }
}

#[test]
fn killed_runs_backfills_and_rebuilds_recover_to_a_clean_build() {
    let clean = example_project();
    assert_eq!(clean.cli(&["run", "--now", NOW]).code, 0);
    let tables = table_names(&clean);
    let reference = contents(&clean, &tables);
    let backfill = [
        "backfill",
        "hourly.guild_messages",
        "--from",
        "2024-01-10",
        "--to",
        "2024-01-12",
        "--downstream",
        "--now",
        NOW,
    ];
    let rebuild = [
        "rebuild",
        "core.user_voice_firsts",
        "--downstream",
        "--now",
        NOW,
    ];
    let run = ["run", "--now", NOW];
    let mut random = Lcg(20241123);
    let mut kills = 0;
    for round in 0..66 {
        let p = example_project();
        let (command, first_build): (&[&str], bool) = match round % 3 {
            0 => (&run, true),
            1 => (&backfill, false),
            _ => (&rebuild, false),
        };
        if !first_build {
            copy_tree(&clean.root().join(".derived"), &p.root().join(".derived"));
        }
        let window = if first_build { 600 } else { 250 };
        kills += usize::from(kill_after(
            &p,
            command,
            Duration::from_millis(5 + random.next(window)),
        ));
        let again = p.cli(command);
        assert_eq!(again.code, 0, "round {round}: {}", again.stdout);
        assert_eq!(p.cli(&run).code, 0);
        assert_recovered(&p, &reference, &tables, first_build);
    }
    assert!(kills >= 50, "only {kills} kills hit a running process");
}
