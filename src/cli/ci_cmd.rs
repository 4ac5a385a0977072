//! `derived ci` and `derived history`, rendered.

use super::{progress, Format, Outcome};
use crate::app::ci::{self, CiOptions};
use crate::app::Settings;
use crate::exec::Progress;
use crate::plan::Plan;
use crate::time::{format_ts, Duration};
use anyhow::{anyhow, Context, Result};
use std::fmt::Write;
use std::path::Path;

pub fn ci_command(
    s: &Settings,
    base: &str,
    last: &str,
    report_file: Option<&Path>,
    cleanup: Option<&str>,
) -> Result<Outcome> {
    let options = CiOptions {
        base,
        last: Duration::parse(last).map_err(|e| anyhow!("--last: {e}"))?,
        cleanup: cleanup
            .map(Duration::parse)
            .transpose()
            .map_err(|e| anyhow!("--cleanup: {e}"))?,
    };
    let progress = |plan: &Plan| -> Box<dyn Progress> { progress::for_terminal(plan) };
    let outcome = ci::ci(s, &options, &progress)?;
    if let Some(file) = report_file {
        std::fs::write(file, &outcome.markdown)
            .with_context(|| format!("cannot write the report to {}", file.display()))?;
    }
    let notes = outcome.dropped.map_or(String::new(), |dropped| {
        let names = if dropped.is_empty() {
            String::new()
        } else {
            format!(": {}", dropped.join(", "))
        };
        format!(
            "cleanup: dropped {} shadow environment(s){names}\n",
            dropped.len()
        )
    });
    Ok(Outcome {
        stdout: notes + &outcome.markdown,
        code: u8::from(outcome.failed),
    })
}

pub fn history_command(s: &Settings, format: Format, table: &str) -> Result<Outcome> {
    let rows = ci::history(s, table)?;
    let stdout = if format == Format::Json {
        serde_json::to_string_pretty(&serde_json::json!({ "table": table, "commits": rows }))?
            + "\n"
    } else {
        let mut out = String::new();
        for r in &rows {
            let _ = writeln!(
                out,
                "{} {} {:<16} {}{}  runs={} ({} ok)",
                &r.commit[..7.min(r.commit.len())],
                format_ts(r.date),
                r.author,
                r.message,
                if r.fingerprint_changed {
                    "  [data changed]"
                } else {
                    ""
                },
                r.runs,
                r.succeeded
            );
        }
        out
    };
    Ok(Outcome::ok(stdout))
}
