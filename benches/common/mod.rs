//! What the benchmarks share: settings from the environment, and psql.

use std::process::Command;

pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `sql` with psql (PostgreSQL's client); its output, trimmed.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-qAt", url, "-c", sql])
        .output()
        .expect("psql (PostgreSQL's client) is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
