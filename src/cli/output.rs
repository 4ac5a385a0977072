//! Rendering command results as text or SPEC §8 JSON, only at the edge.

use super::Format;
use crate::app::checks::CheckReport;
use crate::app::status::StatusRow;
use crate::exec::{DryRun, RunReport};
use crate::ingest::IngestTotals;
use crate::metadata::{RunAction, RunRecord, RunStatus};
use crate::plan::Plan;
use crate::project::checks::CheckSeverity;
use crate::project::diagnostic::{render_text, to_json};
use crate::project::{Project, Severity, TableName};
use crate::testing::{TestOutcome, TestStatus};
use crate::time::format_ts;
use crate::warehouse::QueryResult;
use serde::Serialize;
use serde_json::json;
use std::fmt::Write;

pub fn validation(project: &Project, dry_runs: Option<&[DryRun]>, format: Format) -> String {
    let tables = project.tables().count();
    let sources = project.sources().count();
    let errors: Vec<_> = project
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let warnings: Vec<_> = project
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    let failed_dry_runs = dry_runs
        .unwrap_or_default()
        .iter()
        .filter(|d| d.error.is_some())
        .count();
    let ok = errors.is_empty() && failed_dry_runs == 0;
    if format == Format::Json {
        let as_json = |list: &[&crate::project::Diagnostic]| -> Vec<_> {
            list.iter()
                .map(|d| to_json(d, &project.files, &project.root))
                .collect()
        };
        let mut value = json!({
            "ok": ok,
            "tables": tables,
            "sources": sources,
            "errors": as_json(&errors),
            "warnings": as_json(&warnings),
        });
        if let Some(dry_runs) = dry_runs {
            value["dry_run"] = json!(dry_runs);
        }
        return serde_json::to_string_pretty(&value).expect("serializable") + "\n";
    }
    let mut out = render_text(&project.diagnostics, &project.files, &project.root);
    for dry_run in dry_runs.unwrap_or_default() {
        let table = TableName::parse(&dry_run.table)
            .ok()
            .and_then(|name| project.table(&name))
            .map(|t| t.file.display().to_string())
            .unwrap_or_default();
        let _ = match (&dry_run.error, dry_run.bytes) {
            (Some(error), _) => writeln!(out, "error: {}: {error}\n  --> {table}", dry_run.table),
            (None, Some(bytes)) => {
                writeln!(out, "{}: would scan {}", dry_run.table, bytes_text(bytes))
            }
            (None, None) => writeln!(out, "{}: ok", dry_run.table),
        };
    }
    if let Some(dry_runs) = dry_runs {
        let total: u64 = dry_runs.iter().filter_map(|d| d.bytes).sum();
        let _ = writeln!(
            out,
            "dry run: {} table(s), {failed_dry_runs} failed, {} in all",
            dry_runs.len(),
            bytes_text(total)
        );
    }
    let _ = writeln!(
        out,
        "{}: {tables} tables, {sources} sources, {} error(s), {} warning(s)",
        if ok { "ok" } else { "invalid" },
        errors.len() + failed_dry_runs,
        warnings.len()
    );
    out
}

fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[derive(Serialize)]
struct PlanActionJson {
    table: String,
    action: &'static str,
    intervals: Vec<[String; 2]>,
    interval_count: usize,
    reason: String,
    impact: Impact,
}

/// What an action, or the whole plan, costs (SPEC §10.3).
#[derive(Serialize)]
struct Impact {
    intervals: usize,
    /// Bytes its queries read, by dry run; null when the warehouse cannot tell.
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<String>>,
}

fn plan_actions(project: &Project, plan: &Plan, bytes: &[Option<u64>]) -> Vec<PlanActionJson> {
    plan.actions
        .iter()
        .zip(bytes.iter().copied().chain(std::iter::repeat(None)))
        .map(|(a, bytes)| {
            let interval_count = project
                .table(&a.table)
                .map_or(a.batches.len(), |t| a.intervals(t));
            PlanActionJson {
                table: a.table.to_string(),
                action: a.kind.name(),
                intervals: a
                    .batches
                    .iter()
                    .map(|b| [format_ts(b.start()), format_ts(b.end())])
                    .collect(),
                interval_count,
                reason: a.reason.clone(),
                impact: Impact {
                    intervals: interval_count,
                    bytes,
                    columns: Some(a.columns.clone()),
                },
            }
        })
        .collect()
}

fn plan_total(actions: &[PlanActionJson], bytes: &[Option<u64>]) -> Impact {
    Impact {
        intervals: actions.iter().map(|a| a.interval_count).sum(),
        bytes: crate::app::total_bytes(bytes),
        columns: None,
    }
}

pub fn plan(project: &Project, plan: &Plan, bytes: &[Option<u64>], format: Format) -> String {
    let actions = plan_actions(project, plan, bytes);
    let total = plan_total(&actions, bytes);
    if format == Format::Json {
        let value = json!({
            "now": plan.now.map(format_ts),
            "actions": actions,
            "blocked": plan.blocked,
            "impact": total,
        });
        return serde_json::to_string_pretty(&value).expect("serializable") + "\n";
    }
    let mut out = String::new();
    if actions.is_empty() {
        out.push_str("nothing to run\n");
    }
    for a in &actions {
        let span = match (a.intervals.first(), a.intervals.last()) {
            (Some(first), Some(last)) => format!("{} .. {}", first[0], last[1]),
            _ => String::new(),
        };
        let bytes = a
            .impact
            .bytes
            .map_or(String::new(), |b| format!(", reads {}", bytes_text(b)));
        let _ = writeln!(
            out,
            "{:<10} {:<40} {:>5} interval(s) {span}{bytes}\n           {}",
            a.action, a.table, a.interval_count, a.reason
        );
    }
    for b in &plan.blocked {
        let waiting: Vec<&str> = b.waiting_for.iter().map(TableName::as_str).collect();
        let _ = writeln!(
            out,
            "blocked    {:<40} waiting for {}",
            b.table,
            waiting.join(", ")
        );
    }
    if !actions.is_empty() {
        let _ = writeln!(
            out,
            "impact: {} interval(s){}",
            total.intervals,
            total
                .bytes
                .map_or(String::new(), |b| format!(", reads {}", bytes_text(b)))
        );
    }
    out
}

/// `run --max-bytes` refusing a plan over budget: what it would have read.
pub fn refused(
    project: &Project,
    plan: &Plan,
    bytes: &[Option<u64>],
    max_bytes: u64,
    format: Format,
) -> String {
    let actions = plan_actions(project, plan, bytes);
    let total = plan_total(&actions, bytes);
    if format == Format::Json {
        let value = json!({
            "refused": true,
            "max_bytes": max_bytes,
            "actions": actions,
            "impact": total,
        });
        return serde_json::to_string_pretty(&value).expect("serializable") + "\n";
    }
    format!(
        "refused: the plan would read {} ({} bytes), over --max-bytes {max_bytes}; nothing ran\n{}",
        bytes_text(total.bytes.unwrap_or_default()),
        total.bytes.unwrap_or_default(),
        self::plan(project, plan, bytes, format)
    )
}

/// `derived ingest`: what landed, then the runs it caused (`runs`, as text or
/// JSON), with any ingest error.
pub fn ingest_report(
    source: &str,
    totals: Option<&IngestTotals>,
    errors: &[String],
    runs: String,
    format: Format,
) -> String {
    let totals = totals.cloned().unwrap_or_default();
    if format == Format::Json {
        let mut value: serde_json::Value = serde_json::from_str(&runs).expect("run report JSON");
        value["ingest"] = serde_json::json!({"source": source, "errors": errors});
        if let (Some(out), serde_json::Value::Object(fields)) = (
            value["ingest"].as_object_mut(),
            serde_json::to_value(&totals).expect("serializable"),
        ) {
            out.extend(fields);
        }
        return serde_json::to_string_pretty(&value).expect("serializable") + "\n";
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{source}: {} event(s) in {} batch(es): {} landed, {} duplicate(s), {} late, {} rejected, {} replayed; complete through {}",
        totals.events,
        totals.batches,
        totals.landed,
        totals.duplicates,
        totals.late,
        totals.rejected,
        totals.replayed,
        totals.watermark.map_or("(no watermark yet)".into(), crate::time::format_ts)
    );
    for error in errors {
        let _ = writeln!(out, "ingest failed: {error}");
    }
    out + &runs
}

pub fn run_report(report: &RunReport, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(report).expect("serializable") + "\n";
    }
    let mut out = String::new();
    if let Some(error) = &report.setup_error {
        let _ = writeln!(out, "nothing ran: {error}");
    }
    let mut per_table: Vec<(&str, RunAction, usize, u64, usize, f64)> = Vec::new();
    for run in &report.runs {
        match per_table
            .iter_mut()
            .find(|t| t.0 == run.table && t.1 == run.action)
        {
            Some(t) => {
                t.2 += 1;
                t.3 += run.rows_written.unwrap_or(0);
                t.4 += usize::from(run.status == RunStatus::Failed);
                t.5 += run.seconds;
            }
            None => per_table.push((
                &run.table,
                run.action,
                1,
                run.rows_written.unwrap_or(0),
                usize::from(run.status == RunStatus::Failed),
                run.seconds,
            )),
        }
    }
    if !per_table.is_empty() {
        let _ = writeln!(
            out,
            "{:<40} {:<10} {:>5} {:>10} {:>8}  status",
            "table", "action", "runs", "rows", "seconds"
        );
    }
    for (table, action, runs, rows, failed, seconds) in &per_table {
        let status = if *failed > 0 { "FAILED" } else { "ok" };
        let _ = writeln!(
            out,
            "{table:<40} {action:<10} {runs:>5} {rows:>10} {seconds:>8.2}  {status}"
        );
    }
    for run in report.runs.iter().filter(|r| r.status == RunStatus::Failed) {
        let _ = writeln!(
            out,
            "\nFAILED {} [{} .. {}) run {}:\n  {}",
            run.table,
            format_ts(run.interval_start),
            format_ts(run.interval_end),
            run.run_id,
            run.error.as_deref().unwrap_or("")
        );
    }
    for run in &report.runs {
        for warning in &run.warnings {
            let _ = writeln!(out, "WARNING {} run {}: {warning}", run.table, run.run_id);
        }
    }
    for b in &report.blocked {
        let waiting: Vec<&str> = b.waiting_for.iter().map(TableName::as_str).collect();
        let _ = writeln!(
            out,
            "blocked {} (waiting for {})",
            b.table,
            waiting.join(", ")
        );
    }
    for d in &report.deferred {
        let _ = writeln!(out, "left for later {}: {}", d.table, d.reason);
    }
    let _ = writeln!(
        out,
        "{} succeeded, {} failed, {} blocked{}",
        report.succeeded,
        report.failed,
        report.blocked.len(),
        if report.deferred.is_empty() {
            String::new()
        } else {
            format!(", {} left for later", report.deferred.len())
        }
    );
    out
}

pub fn checks(reports: &[CheckReport], format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(&json!({ "tables": reports })).expect("serializable")
            + "\n";
    }
    let mut out = String::new();
    let mut failed = 0;
    for r in reports {
        if let Some(error) = &r.error {
            let _ = writeln!(out, "{:<40} ERROR  {error}", r.table);
            failed += 1;
        }
        for c in &r.checks {
            let verdict = match (c.passed(), c.severity) {
                (true, _) => "pass",
                (false, CheckSeverity::Warn) => "WARN",
                (false, CheckSeverity::Error) => "FAIL",
            };
            failed += usize::from(!c.passed() && c.severity == CheckSeverity::Error);
            let _ = writeln!(
                out,
                "{:<40} {verdict:<6} {}{}",
                r.table,
                c.name,
                if c.passed() {
                    String::new()
                } else {
                    format!(": {} offending row(s)", c.failing_rows)
                }
            );
        }
    }
    let _ = writeln!(out, "{} check(s) failed", failed);
    out
}

pub fn tests(outcomes: &[TestOutcome], took: std::time::Duration, format: Format) -> String {
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let failed = outcomes.len() - passed;
    if format == Format::Json {
        let body = json!({
            "ok": failed == 0,
            "passed": passed,
            "failed": failed,
            "seconds": took.as_secs_f64(),
            "tests": outcomes,
        });
        return serde_json::to_string_pretty(&body).expect("serializable") + "\n";
    }
    let mut out = String::new();
    for o in outcomes {
        let verdict = match o.status {
            TestStatus::Passed => "pass",
            TestStatus::Failed => "FAIL",
            TestStatus::Error => "ERROR",
        };
        let _ = writeln!(
            out,
            "{verdict:<5} {} :: {}  ({}:{})",
            o.table, o.test, o.file, o.line
        );
        out.push_str(&test_details(o));
    }
    let _ = writeln!(
        out,
        "{} test(s): {passed} passed, {failed} failed ({:.2} s)",
        outcomes.len(),
        took.as_secs_f64()
    );
    out
}

/// Why a test did not pass, indented under it.
fn test_details(o: &TestOutcome) -> String {
    let mut out = String::new();
    if let Some(error) = &o.error {
        let _ = writeln!(out, "      {error}");
    }
    for (title, rows) in [
        ("missing (expected, not produced)", &o.missing),
        ("unexpected (produced, not expected)", &o.unexpected),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "      {title}:");
        for row in rows {
            let _ = writeln!(out, "        {row}");
        }
    }
    out
}

pub fn status(rows: &[StatusRow], format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(&json!({ "tables": rows })).expect("serializable")
            + "\n";
    }
    let mut out = format!(
        "{:<40} {:<10} {:<21} {:>10}  last run\n",
        "table", "state", "watermark", "lag"
    );
    for r in rows {
        let lag = r.lag_seconds.map_or("-".to_string(), human_duration);
        let mut last = match (r.last_run_at, r.last_status) {
            (Some(t), Some(s)) => format!("{} {}", format_ts(t), s.name()),
            (None, Some(s)) => s.name().to_string(),
            _ => "-".to_string(),
        };
        if !r.failed_checks.is_empty() {
            last.push_str(&format!(" (checks: {})", r.failed_checks.join(", ")));
        }
        let _ = writeln!(
            out,
            "{:<40} {:<10} {:<21} {lag:>10}  {last}",
            r.name,
            r.state,
            r.watermark.map_or("-".to_string(), format_ts)
        );
        for d in &r.definitions {
            let ranges: Vec<String> = d
                .ranges
                .iter()
                .map(|[s, e]| format!("{s} .. {e}"))
                .collect();
            let _ = writeln!(
                out,
                "  built by definition {}{}: {}",
                &d.fingerprint[..d.fingerprint.len().min(12)],
                if d.current { " (current)" } else { "" },
                ranges.join(", ")
            );
        }
    }
    out
}

fn human_duration(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

pub fn log(records: &[RunRecord], format: Format) -> String {
    let mut out = String::new();
    for r in records {
        if format == Format::Json {
            out.push_str(&serde_json::to_string(r).expect("serializable"));
            out.push('\n');
            continue;
        }
        let interval = match (r.interval_start, r.interval_end) {
            (Some(s), Some(e)) => format!("{} .. {}", format_ts(s), format_ts(e)),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:>6} {} {:<8} {:<10} {:<36} {interval} rows={}{}",
            r.run_id,
            format_ts(r.started_at),
            r.status.name(),
            r.action,
            r.table_name,
            r.rows_written.map_or("-".to_string(), |n| n.to_string()),
            r.error
                .as_deref()
                .map(|e| format!("\n       error: {}", e.lines().next().unwrap_or("")))
                .unwrap_or_default()
        );
    }
    out
}

pub fn query(result: &QueryResult, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string(result).expect("serializable") + "\n";
    }
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = result.columns.iter().map(String::len).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |values: &[String]| -> String {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut out = line(&result.columns);
    for row in &cells {
        out.push_str(&line(row));
    }
    let _ = writeln!(out, "({} row(s))", cells.len());
    out
}
