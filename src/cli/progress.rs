//! Run progress: on a terminal, an overall bar plus one bar per table while it
//! runs; elsewhere one plain line per finished run.

use crate::exec::{Progress, RunOutcome};
use crate::metadata::RunStatus;
use crate::plan::Plan;
use crate::project::TableName;
use crate::time::{format_ts, Interval};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

pub fn for_terminal(plan: &Plan) -> Box<dyn Progress> {
    let mut per_table: HashMap<String, u64> = HashMap::new();
    for action in &plan.actions {
        *per_table.entry(action.table.to_string()).or_default() += action.batches.len() as u64;
    }
    let total: u64 = per_table.values().sum();
    if !std::io::stderr().is_terminal() || total == 0 {
        return Box::new(Lines);
    }
    let multi = MultiProgress::new();
    let overall = multi.add(ProgressBar::new(total));
    overall.set_style(style(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} runs",
    ));
    Box::new(Bars {
        multi,
        overall,
        per_table,
        active: Mutex::new(HashMap::new()),
    })
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("valid template")
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    per_table: HashMap<String, u64>,
    active: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress for Bars {
    fn started(&self, table: &TableName, batch: Interval, _batches: usize) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let bar = active.entry(table.to_string()).or_insert_with(|| {
            let bar = self.multi.insert_before(
                &self.overall,
                ProgressBar::new(self.per_table.get(table.as_str()).copied().unwrap_or(1)),
            );
            bar.set_style(style("  {bar:30} {pos}/{len} {prefix} {wide_msg}"));
            bar.set_prefix(table.to_string());
            bar
        });
        bar.set_message(batch.to_string());
    }

    fn finished(&self, run: &RunOutcome) {
        self.overall.inc(1);
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = active.get(&run.table) {
            bar.inc(1);
            let done = bar.length().is_some_and(|len| bar.position() >= len);
            if done || run.status == RunStatus::Failed {
                bar.finish_and_clear();
                active.remove(&run.table);
            }
        }
        if run.status == RunStatus::Failed {
            let _ = self.multi.println(format!(
                "FAILED {} {}: {}",
                run.table,
                format_ts(run.interval_start),
                run.error.as_deref().unwrap_or("")
            ));
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.overall.finish_and_clear();
    }
}

/// One plain line per finished run, on stderr.
pub struct Lines;

impl Progress for Lines {
    fn finished(&self, run: &RunOutcome) {
        let status = if run.status == RunStatus::Success {
            "ok"
        } else {
            "FAILED"
        };
        eprintln!(
            "{status} {} {} {}..{} rows={} {:.3}s{}",
            run.action,
            run.table,
            format_ts(run.interval_start),
            format_ts(run.interval_end),
            run.rows_written.map_or("-".to_string(), |r| r.to_string()),
            run.seconds,
            run.error
                .as_deref()
                .map(|e| format!(": {}", e.lines().next().unwrap_or("")))
                .unwrap_or_default()
        );
    }
}
