//! Runs unit tests (SPEC §10.4): a table's SQL rendered for the test's
//! interval, every relation it reads replaced by the test's literal rows,
//! run read-only, and its output compared with the expected rows.
//!
//! What never changes: a test writes nothing, to the warehouse or the log;
//! rows compare by value and in any order, on the expected columns only.

use crate::env::{Env, PhysicalName};
use crate::project::diagnostic::display_path;
use crate::project::refs;
use crate::project::template::{RenderContext, Renderer};
use crate::project::unit_test::{columns_named, row_json, Cell, Row, UnitTest};
use crate::project::{Project, Table};
use crate::time::{parse_timestamp, to_micros};
use crate::warehouse::{Dialect, Warehouse};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    Passed,
    /// The output differs from the expected rows.
    Failed,
    /// The test could not run (its SQL, or the warehouse, failed).
    Error,
}

/// What one test found.
#[derive(Clone, Debug, Serialize)]
pub struct TestOutcome {
    pub table: String,
    pub test: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub status: TestStatus,
    /// Expected rows the SQL did not produce.
    pub missing: Vec<serde_json::Value>,
    /// Rows the SQL produced that were not expected.
    pub unexpected: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
}

impl TestOutcome {
    pub fn passed(&self) -> bool {
        self.status == TestStatus::Passed
    }
}

/// Runs the tests of `tables` on `warehouse`, in parallel; outcomes in table
/// and test order.
pub fn run(project: &Project, warehouse: &dyn Warehouse, tables: &[&Table]) -> Vec<TestOutcome> {
    let tests: Vec<(&Table, &UnitTest)> = tables
        .iter()
        .flat_map(|table| table.tests.iter().map(move |test| (*table, test)))
        .collect();
    tests
        .par_iter()
        .map(|(table, test)| run_one(project, warehouse, table, test))
        .collect()
}

fn run_one(
    project: &Project,
    warehouse: &dyn Warehouse,
    table: &Table,
    test: &UnitTest,
) -> TestOutcome {
    let started = std::time::Instant::now();
    let (line, column) = project.files.line_column(&table.file, test.offset);
    let mut outcome = TestOutcome {
        table: table.name.to_string(),
        test: test.name.clone(),
        file: display_path(&table.file, &project.root),
        line,
        column,
        status: TestStatus::Passed,
        missing: Vec::new(),
        unexpected: Vec::new(),
        error: None,
        seconds: 0.0,
    };
    let result = test_sql(project, table, test, warehouse.dialect())
        .and_then(|sql| warehouse.query_read_only(&sql).map_err(|e| e.message));
    match result {
        Ok(output) => {
            let diff = compare(&test.expect, &output.columns, output.rows);
            if !diff.missing.is_empty() || !diff.unexpected.is_empty() {
                outcome.status = TestStatus::Failed;
            }
            outcome.missing = diff.missing;
            outcome.unexpected = diff.unexpected;
        }
        Err(message) => {
            outcome.status = TestStatus::Error;
            outcome.error = Some(message);
        }
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

/// The query a test runs: the table's SQL for the test's interval and vars,
/// each relation it reads replaced by the rows given for it, narrowed to the
/// expected columns.
fn test_sql(
    project: &Project,
    table: &Table,
    test: &UnitTest,
    dialect: Dialect,
) -> Result<String, String> {
    let own_renderer;
    let renderer = if test.vars.is_empty() {
        &project.renderer
    } else {
        let mut vars = project.config.vars.clone();
        for (name, json) in &test.vars {
            let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
            vars.insert(name.clone(), minijinja::Value::from_serialize(value));
        }
        own_renderer = Renderer::new(vars, project.config.dialect);
        &own_renderer
    };
    let interval = table
        .schedule
        .interval_at(test.interval.unwrap_or(table.start));
    let this = dialect.table(&PhysicalName::prod(&table.name));
    let ctx = RenderContext {
        input: table.input_range(interval),
        interval,
        this: &this,
        env: Env::Prod.name(),
        is_first_build: false,
        rows: None,
    };
    let sql = renderer.render(&table.sql, &ctx).map_err(|e| e.message)?;
    let sql = with_fixtures(project, table, test, dialect, &sql)?;
    let body = sql.trim_end().trim_end_matches(';');
    let columns = columns_named(&test.expect);
    let select = if columns.is_empty() {
        "*".to_string()
    } else {
        let quoted: Vec<String> = columns.iter().map(|c| dialect.quote(c)).collect();
        quoted.join(", ")
    };
    Ok(format!("SELECT {select} FROM (\n{body}\n) AS derived_test"))
}

/// `sql` with every relation it reads replaced by literal rows.
fn with_fixtures(
    project: &Project,
    table: &Table,
    test: &UnitTest,
    dialect: Dialect,
    sql: &str,
) -> Result<String, String> {
    let sql_dialect = project.config.dialect;
    let occurrences = refs::occurrences(sql, sql_dialect, project.config.default_project())
        .map_err(|e| format!("SQL syntax error: {}", e.message))?;
    let key = |name: &str| sql_dialect.reference_key(name).into_owned();
    let own = key(table.name.as_str());
    let mut out = sql.to_string();
    for occurrence in occurrences.iter().rev() {
        let name = occurrence.name.as_str();
        if refs::is_information_schema(name) {
            continue;
        }
        if occurrence.span.is_empty() {
            return Err(format!(
                "cannot tell where the SQL names `{name}`, so its rows cannot be put in its place"
            ));
        }
        let wanted = key(name);
        let given = test.given.iter().find(|g| key(&g.upstream) == wanted);
        let declared = project
            .resolve_reference(name)
            .and_then(|n| project.get(n))
            .map(|n| n.columns())
            .unwrap_or_default();
        let rows = match given {
            Some(given) => fixture(dialect, declared, &given.rows, name)?,
            None if wanted == own => fixture(dialect, &table.columns, &[], name)?,
            None => {
                return Err(format!(
                    "the SQL reads `{name}`, and the test gives no rows for it"
                ))
            }
        };
        let last = name.rsplit('.').next().unwrap_or(name);
        let alias = if occurrence.aliased {
            String::new()
        } else {
            format!(" AS {}", dialect.quote(last))
        };
        out.replace_range(occurrence.span.clone(), &format!("({rows}){alias}"));
    }
    Ok(out)
}

/// The rows of one relation: its declared columns, typed, or (declaring none)
/// the columns its rows name.
fn fixture(
    dialect: Dialect,
    declared: &[crate::project::Column],
    rows: &[Row],
    name: &str,
) -> Result<String, String> {
    let columns: Vec<(&str, Option<&str>)> = if declared.is_empty() {
        columns_named(rows).into_iter().map(|n| (n, None)).collect()
    } else {
        declared
            .iter()
            .map(|c| (c.name.as_str(), c.data_type.as_deref()))
            .collect()
    };
    if columns.is_empty() {
        return Err(format!(
            "`{name}` declares no columns and the test gives it no rows, so its shape is unknown: declare its columns or give a row"
        ));
    }
    let cells: Vec<Vec<&Cell>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(column, _)| {
                    row.iter()
                        .find(|(c, _)| c.eq_ignore_ascii_case(column))
                        .map_or(&Cell::Null, |(_, cell)| cell)
                })
                .collect()
        })
        .collect();
    Ok(dialect.fixture_rows(&columns, &cells))
}

/// Expected rows the output lacks, and output rows not expected.
#[derive(Debug, Default, PartialEq)]
struct RowDiff {
    missing: Vec<serde_json::Value>,
    unexpected: Vec<serde_json::Value>,
}

/// Compares as multisets, value by value: numbers by value (1 = 1.0),
/// timestamps and dates by the instant they name, NULL only with NULL.
/// `columns` are the output's; only those the expected rows name are compared
/// (all of them when no row is expected).
fn compare(expect: &[Row], columns: &[String], rows: Vec<Vec<serde_json::Value>>) -> RowDiff {
    let expected_columns = columns_named(expect);
    let positions: Vec<Option<usize>> = expected_columns
        .iter()
        .map(|c| columns.iter().position(|o| o.eq_ignore_ascii_case(c)))
        .collect();
    let actual_key = |row: &[serde_json::Value]| -> Vec<String> {
        if expected_columns.is_empty() {
            return row.iter().map(canonical).collect();
        }
        positions
            .iter()
            .map(|p| {
                p.and_then(|i| row.get(i))
                    .map_or_else(|| canonical(&serde_json::Value::Null), canonical)
            })
            .collect()
    };
    let mut unmatched: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for (index, row) in rows.iter().enumerate().rev() {
        unmatched.entry(actual_key(row)).or_default().push(index);
    }
    let mut diff = RowDiff::default();
    for row in expect {
        let key: Vec<String> = expected_columns
            .iter()
            .map(|c| {
                row.iter().find(|(name, _)| name == c).map_or_else(
                    || canonical(&serde_json::Value::Null),
                    |(_, cell)| canonical(&cell.to_json()),
                )
            })
            .collect();
        match unmatched.get_mut(&key).and_then(Vec::pop) {
            Some(_) => {}
            None => diff.missing.push(row_json(row)),
        }
    }
    let mut left: Vec<usize> = unmatched.into_values().flatten().collect();
    left.sort_unstable();
    diff.unexpected = left
        .into_iter()
        .map(|i| {
            let shown: Vec<(String, serde_json::Value)> = columns
                .iter()
                .cloned()
                .zip(rows[i].iter().cloned())
                .filter(|(c, _)| {
                    expected_columns.is_empty()
                        || expected_columns.iter().any(|e| e.eq_ignore_ascii_case(c))
                })
                .collect();
            serde_json::Value::Object(shown.into_iter().collect())
        })
        .collect();
    diff
}

/// A value as compared: equal values of different spellings give one key.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".to_string(),
        serde_json::Value::Bool(b) => format!("b{b}"),
        serde_json::Value::Number(n) => number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => {
            if let Ok(t) = parse_timestamp(s.trim()) {
                format!("t{}", to_micros(t))
            } else if let Ok(n) = s.trim().parse::<f64>() {
                number(n)
            } else {
                format!("s{s}")
            }
        }
        other => format!("j{other}"),
    }
}

/// Numbers equal to ten significant digits share a key.
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("n{}", n as i64)
    } else {
        format!("n{n:.9e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(cells: &[(&str, Cell)]) -> Row {
        cells
            .iter()
            .map(|(c, v)| (c.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn rows_compare_by_value_in_any_order_on_the_expected_columns() {
        let expect = vec![
            row(&[
                ("day", Cell::Text("2024-01-01".into())),
                ("n", Cell::Number("2".into())),
            ]),
            row(&[("day", Cell::Text("2024-01-02".into())), ("n", Cell::Null)]),
        ];
        let columns = vec!["n".to_string(), "day".to_string(), "other".to_string()];
        let rows = vec![
            vec![json!(null), json!("2024-01-02T00:00:00Z"), json!("x")],
            vec![json!(2.0), json!("2024-01-01"), json!("y")],
        ];
        assert_eq!(compare(&expect, &columns, rows), RowDiff::default());
    }

    #[test]
    fn duplicates_count_and_differences_are_reported_both_ways() {
        let expect = vec![
            row(&[("n", Cell::Number("1".into()))]),
            row(&[("n", Cell::Number("1".into()))]),
        ];
        let columns = vec!["n".to_string()];
        let diff = compare(&expect, &columns, vec![vec![json!(1)], vec![json!(3)]]);
        assert_eq!(diff.missing, vec![json!({"n": 1})]);
        assert_eq!(diff.unexpected, vec![json!({"n": 3})]);
    }

    #[test]
    fn no_expected_rows_means_every_output_row_is_unexpected() {
        let diff = compare(&[], &["a".to_string()], vec![vec![json!("x")]]);
        assert_eq!(diff.unexpected, vec![json!({"a": "x"})]);
        assert!(compare(&[], &["a".to_string()], vec![])
            .unexpected
            .is_empty());
    }

    #[test]
    fn floats_compare_to_ten_digits_and_null_only_equals_null() {
        assert_eq!(canonical(&json!(0.1 + 0.2)), canonical(&json!(0.3)));
        assert_ne!(canonical(&json!(null)), canonical(&json!("")));
        assert_ne!(canonical(&json!(null)), canonical(&json!(0)));
        assert_eq!(
            canonical(&json!("2024-01-01 10:00:00")),
            canonical(&json!("2024-01-01T10:00:00Z"))
        );
    }
}
