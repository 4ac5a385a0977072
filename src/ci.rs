//! CI on shadow production data: what a change adds, modifies and removes,
//! how its shadow build differs from production, and the pull-request report.

use crate::dag::Dag;
use crate::env::Env;
use crate::env::PhysicalName;
use crate::project::{Project, Table, TableName};
use crate::testing::{TestOutcome, TestStatus};
use crate::time::{format_ts, Interval};
use crate::warehouse::{Dialect, Warehouse, Within};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Tables a change touches, by comparing fingerprints of two project versions.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: Vec<TableName>,
    pub modified: Vec<TableName>,
    pub removed: Vec<TableName>,
    /// Added and modified tables plus everything downstream of them.
    pub to_build: BTreeSet<TableName>,
    /// Tables whose unit tests run: those to build, and those whose tests changed.
    pub to_test: BTreeSet<TableName>,
}

pub fn changes(base: &Project, head: &Project, head_dag: &Dag) -> Changes {
    let mut out = Changes::default();
    for table in head.tables() {
        match base.table(&table.name) {
            None => out.added.push(table.name.clone()),
            Some(old) if old.fingerprint != table.fingerprint => {
                out.modified.push(table.name.clone())
            }
            Some(_) => {}
        }
    }
    out.removed = base
        .tables()
        .filter(|t| head.table(&t.name).is_none())
        .map(|t| t.name.clone())
        .collect();
    for name in out.added.iter().chain(&out.modified) {
        out.to_build.insert(name.clone());
        out.to_build.extend(
            head_dag
                .all_downstream(name)
                .into_iter()
                .filter(|n| head.table(n).is_some()),
        );
    }
    out.to_test = out.to_build.clone();
    out.to_test.extend(
        head.tables()
            .filter(|t| base.table(&t.name).is_some_and(|old| old.tests != t.tests))
            .map(|t| t.name.clone()),
    );
    out
}

/// How a table built in the shadow environment differs from production.
#[derive(Debug)]
pub struct TableDiff {
    pub table: TableName,
    pub range: Option<Interval>,
    pub prod_rows: Option<i64>,
    pub shadow_rows: i64,
    pub columns: Vec<ColumnDiff>,
    pub keyed: Option<KeyDiff>,
}

#[derive(Debug)]
pub struct ColumnDiff {
    pub column: String,
    pub prod_nulls: Option<i64>,
    pub shadow_nulls: i64,
    pub prod_distinct: Option<i64>,
    pub shadow_distinct: i64,
}

#[derive(Debug)]
pub struct KeyDiff {
    pub only_in_shadow: i64,
    pub only_in_prod: i64,
    pub changed: i64,
    pub samples: Vec<serde_json::Value>,
}

fn scalar(warehouse: &dyn Warehouse, sql: &str) -> Result<i64, String> {
    let result = warehouse.query(sql).map_err(|e| e.to_string())?;
    Ok(result
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0))
}

/// Compares the shadow copy of `table` with production over `range` (all rows for replace tables).
pub fn diff(
    warehouse: &dyn Warehouse,
    table: &Table,
    shadow_env: &Env,
    range: Option<Interval>,
) -> Result<TableDiff, String> {
    let shadow = PhysicalName::of(&table.name, shadow_env);
    let prod = PhysicalName::prod(&table.name);
    let prod_exists = warehouse.table_exists(&prod).map_err(|e| e.to_string())?;
    let dialect = warehouse.dialect();
    let within = match (range, &table.time_column) {
        (Some(interval), Some(time_column))
            if table.strategy != crate::project::Strategy::Replace =>
        {
            Some(Within {
                time_column,
                interval,
            })
        }
        _ => None,
    };
    let rows_of = |name: &PhysicalName| dialect.rows_in(name, within);
    let count = |name: &PhysicalName| {
        scalar(
            warehouse,
            &format!("SELECT count(*) FROM {}", rows_of(name)),
        )
    };
    let shadow_rows = count(&shadow)?;
    let prod_rows = if prod_exists {
        Some(count(&prod)?)
    } else {
        None
    };
    let columns: Vec<String> = warehouse
        .columns(&shadow)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut column_diffs = Vec::new();
    for column in &columns {
        let stats = |name: &PhysicalName| -> Result<(i64, i64), String> {
            let c = dialect.quote(column);
            let nulls = scalar(
                warehouse,
                &format!("SELECT count(*) - count({c}) FROM {}", rows_of(name)),
            )?;
            let distinct = scalar(
                warehouse,
                &format!("SELECT count(DISTINCT {c}) FROM {}", rows_of(name)),
            )?;
            Ok((nulls, distinct))
        };
        let (shadow_nulls, shadow_distinct) = stats(&shadow)?;
        let prod_stats = if prod_exists { stats(&prod).ok() } else { None };
        column_diffs.push(ColumnDiff {
            column: column.clone(),
            prod_nulls: prod_stats.map(|s| s.0),
            shadow_nulls,
            prod_distinct: prod_stats.map(|s| s.1),
            shadow_distinct,
        });
    }
    let keyed = if prod_exists && !table.unique_key.is_empty() {
        Some(key_diff(
            warehouse,
            dialect,
            table,
            &columns,
            &rows_of(&shadow),
            &rows_of(&prod),
        )?)
    } else {
        None
    };
    Ok(TableDiff {
        table: table.name.clone(),
        range,
        prod_rows,
        shadow_rows,
        columns: column_diffs,
        keyed,
    })
}

fn key_diff(
    warehouse: &dyn Warehouse,
    dialect: Dialect,
    table: &Table,
    columns: &[String],
    shadow: &str,
    prod: &str,
) -> Result<KeyDiff, String> {
    let keys_match = |l: &str, r: &str| -> String {
        let each: Vec<String> = table
            .unique_key
            .iter()
            .map(|k| format!("{l}.{k} IS NOT DISTINCT FROM {r}.{k}", k = dialect.quote(k)))
            .collect();
        each.join(" AND ")
    };
    let on = keys_match("s", "p");
    let differs: Vec<String> = columns
        .iter()
        .filter(|c| !table.unique_key.contains(c))
        .map(|c| format!("s.{c} IS DISTINCT FROM p.{c}", c = dialect.quote(c)))
        .collect();
    let differs = if differs.is_empty() {
        "false".to_string()
    } else {
        differs.join(" OR ")
    };
    let only_in = |a: &str, b: &str| {
        format!(
            "SELECT count(*) FROM {a} AS x WHERE NOT EXISTS (SELECT 1 FROM {b} AS y WHERE {})",
            keys_match("x", "y")
        )
    };
    let only_in_shadow = scalar(warehouse, &only_in(shadow, prod))?;
    let only_in_prod = scalar(warehouse, &only_in(prod, shadow))?;
    let changed_rows = format!("FROM {shadow} AS s JOIN {prod} AS p ON {on} WHERE {differs}");
    let changed = scalar(warehouse, &format!("SELECT count(*) {changed_rows}"))?;
    let samples = warehouse
        .query(&format!(
            "SELECT 'shadow' AS side, s.* {changed_rows} LIMIT 3"
        ))
        .map_err(|e| e.to_string())?;
    let samples = samples
        .rows
        .into_iter()
        .map(|row| serde_json::Value::Object(samples.columns.iter().cloned().zip(row).collect()))
        .collect();
    Ok(KeyDiff {
        only_in_shadow,
        only_in_prod,
        changed,
        samples,
    })
}

/// What the shadow build did, for the report.
pub struct Built {
    pub table: String,
    pub runs: usize,
    pub rows: u64,
    pub failed: Option<String>,
    /// Failed `warn` checks.
    pub warnings: Vec<String>,
}

pub struct Report<'a> {
    pub base: &'a str,
    pub head: &'a str,
    pub shadow_env: &'a Env,
    pub validation: Option<String>,
    pub changes: &'a Changes,
    /// The unit tests of the changed tables, run before anything is built.
    pub tests: Vec<TestOutcome>,
    pub built: Vec<Built>,
    pub blocked: Vec<String>,
    pub diffs: Vec<TableDiff>,
    /// What merging the change will run in production (SPEC §10.3).
    pub impact: Vec<Planned>,
}

/// One action the change will cause in production once merged.
pub struct Planned {
    pub table: String,
    pub action: &'static str,
    pub intervals: usize,
    pub reason: String,
}

/// Markdown fit for a pull-request comment.
pub fn render(report: &Report) -> String {
    let mut out = format!("## Derived CI: `{}` → `{}`\n\n", report.base, report.head);
    if let Some(problems) = &report.validation {
        let _ = write!(
            out,
            "### Validation failed\n\nNothing was built.\n\n```\n{}```\n",
            problems
        );
        return out;
    }
    out.push_str("Validation: ok\n\n### Changes\n\n");
    let list = |names: &[TableName]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(out, "- added: {}", list(&report.changes.added));
    let _ = writeln!(out, "- modified: {}", list(&report.changes.modified));
    let _ = writeln!(out, "- removed: {}", list(&report.changes.removed));
    let downstream: Vec<TableName> = report
        .changes
        .to_build
        .iter()
        .filter(|n| !report.changes.added.contains(n) && !report.changes.modified.contains(n))
        .cloned()
        .collect();
    let _ = writeln!(out, "- downstream, rebuilt: {}\n", list(&downstream));
    if !report.tests.is_empty() {
        render_tests(&mut out, &report.tests);
        if report.tests.iter().any(|t| !t.passed()) {
            out.push_str("Unit tests failed: nothing was built.\n");
            return out;
        }
    }
    if report.changes.to_build.is_empty() {
        out.push_str("Nothing to build: no table's data changes.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "### Shadow build (`{}`)\n\n| table | runs | rows | status |\n|---|---|---|---|",
        report.shadow_env
    );
    for b in &report.built {
        let status = match (&b.failed, b.warnings.is_empty()) {
            (Some(e), _) => format!("**failed**: {}", e.lines().next().unwrap_or("")),
            (None, true) => "ok".to_string(),
            (None, false) => format!("ok, warnings: {}", b.warnings.join("; ")),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {status} |",
            b.table, b.runs, b.rows
        );
    }
    for b in &report.blocked {
        let _ = writeln!(out, "| `{b}` | 0 | 0 | blocked |");
    }
    out.push('\n');
    for d in &report.diffs {
        render_diff(&mut out, d);
    }
    render_impact(&mut out, &report.impact);
    out
}

fn render_tests(out: &mut String, tests: &[TestOutcome]) {
    let passed = tests.iter().filter(|t| t.passed()).count();
    let _ = writeln!(
        out,
        "### Unit tests\n\n{} test(s): {passed} passed, {} failed\n\n| table | test | status |\n|---|---|---|",
        tests.len(),
        tests.len() - passed
    );
    for t in tests {
        let status = match t.status {
            TestStatus::Passed => "ok".to_string(),
            TestStatus::Failed => format!(
                "**failed**: {} missing, {} unexpected row(s) ({}:{})",
                t.missing.len(),
                t.unexpected.len(),
                t.file,
                t.line
            ),
            TestStatus::Error => format!(
                "**error**: {} ({}:{})",
                t.error
                    .as_deref()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default(),
                t.file,
                t.line
            ),
        };
        let _ = writeln!(out, "| `{}` | `{}` | {status} |", t.table, t.test);
    }
    out.push('\n');
    for t in tests.iter().filter(|t| t.status == TestStatus::Failed) {
        let _ = writeln!(out, "`{}` :: `{}`\n\n```", t.table, t.test);
        for row in &t.missing {
            let _ = writeln!(out, "- {row}");
        }
        for row in &t.unexpected {
            let _ = writeln!(out, "+ {row}");
        }
        out.push_str("```\n\n");
    }
}

fn render_impact(out: &mut String, impact: &[Planned]) {
    let total: usize = impact.iter().map(|p| p.intervals).sum();
    let _ = writeln!(
        out,
        "### Impact in production\n\nOnce merged, the next run does {} action(s) over {total} interval(s).\n",
        impact.len()
    );
    if impact.is_empty() {
        return;
    }
    out.push_str("| action | table | intervals | why |\n|---|---|---|---|\n");
    for p in impact {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            p.action,
            p.table,
            p.intervals,
            p.reason.replace('|', "\\|")
        );
    }
    out.push('\n');
}

fn render_diff(out: &mut String, d: &TableDiff) {
    let range = d
        .range
        .map(|r| format!(" over {} .. {}", format_ts(r.start()), format_ts(r.end())))
        .unwrap_or_default();
    let prod = |v: Option<i64>| v.map_or("–".to_string(), |v| v.to_string());
    let _ = writeln!(out, "### `{}` vs production{range}\n", d.table);
    let _ = writeln!(
        out,
        "rows: prod {} → shadow {}\n",
        prod(d.prod_rows),
        d.shadow_rows
    );
    let _ = writeln!(
        out,
        "| column | nulls (prod → shadow) | distinct (prod → shadow) |\n|---|---|---|"
    );
    for c in &d.columns {
        let _ = writeln!(
            out,
            "| `{}` | {} → {} | {} → {} |",
            c.column,
            prod(c.prod_nulls),
            c.shadow_nulls,
            prod(c.prod_distinct),
            c.shadow_distinct
        );
    }
    if let Some(k) = &d.keyed {
        let _ = writeln!(
            out,
            "\nby key: {} only in shadow, {} only in prod, {} changed",
            k.only_in_shadow, k.only_in_prod, k.changed
        );
        for s in &k.samples {
            let _ = writeln!(out, "- `{s}`");
        }
    }
    out.push('\n');
}
