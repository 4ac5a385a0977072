//! Unit tests with fixture rows (SPEC §10.4): a table's SQL run on rows written
//! by hand for each upstream, its output compared with the rows expected.
//!
//! This module reads and checks the `tests:` block; `app::testing` runs it.
//! What never changes: a test's rows are data, never SQL; each warehouse
//! writes them as literals in its own dialect.

use super::dialect::SqlDialect;
use super::yaml::{suggest, Reader, Scope};
use super::Table;
use crate::time::{parse_timestamp, Schedule, Timestamp};
use serde::{Deserialize, Serialize};
use serde_yaml::{Mapping, Value};
use std::collections::{BTreeSet, HashMap};

const TEST_KEYS: [&str; 5] = ["name", "interval", "vars", "given", "expect"];

/// One value of a fixture row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    Null,
    Bool(bool),
    /// A number as written.
    Number(String),
    Text(String),
    /// A CSV field: a number where it reads as one and the column has no
    /// declared type, else text.
    Raw(String),
}

impl Cell {
    fn from_yaml(value: &Value) -> Option<Cell> {
        Some(match value {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(*b),
            Value::Number(n) => Cell::Number(n.to_string()),
            Value::String(s) => Cell::Text(s.clone()),
            Value::Tagged(t) => return Cell::from_yaml(&t.value),
            Value::Sequence(_) | Value::Mapping(_) => return None,
        })
    }

    /// Empty CSV fields are NULL.
    fn from_csv(field: &str) -> Cell {
        if field.is_empty() {
            Cell::Null
        } else {
            Cell::Raw(field.to_string())
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => serde_json::Value::Bool(*b),
            Cell::Number(n) => {
                serde_json::from_str(n).unwrap_or_else(|_| serde_json::Value::String(n.clone()))
            }
            Cell::Text(s) | Cell::Raw(s) => serde_json::Value::String(s.clone()),
        }
    }
}

/// A fixture row: columns and values, in the order written.
pub type Row = Vec<(String, Cell)>;

/// A row as a JSON object, for reports.
pub fn row_json(row: &Row) -> serde_json::Value {
    serde_json::Value::Object(
        row.iter()
            .map(|(column, cell)| (column.clone(), cell.to_json()))
            .collect(),
    )
}

/// The rows given for one upstream (or for the table itself, read through
/// `{{ this }}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Given {
    /// The upstream as written.
    pub upstream: String,
    pub rows: Vec<Row>,
    /// Byte offset of the upstream's key in the definition.
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitTest {
    pub name: String,
    /// Byte offset of the test in the definition, for its file:line.
    pub offset: usize,
    /// The start of the interval the SQL is rendered for; None: the table's first.
    #[serde(with = "crate::time::micros::option")]
    pub interval: Option<Timestamp>,
    /// `vars:` that override derived.yml's for this test, each as JSON.
    pub vars: Vec<(String, String)>,
    pub given: Vec<Given>,
    pub expect: Vec<Row>,
    /// Byte offsets of `given` and `expect` (or the test), where problems
    /// with them are reported.
    pub given_offset: usize,
    pub expect_offset: usize,
}

/// The columns some row names, in the order first written.
pub fn columns_named(rows: &[Row]) -> Vec<&str> {
    let mut columns: Vec<&str> = Vec::new();
    for (column, _) in rows.iter().flatten() {
        if !columns.contains(&column.as_str()) {
            columns.push(column);
        }
    }
    columns
}

/// Reads CSV fixtures: the rows of the file a `{csv: path}` names, or why not.
pub type CsvReader<'a> = dyn FnMut(&str) -> Result<Vec<Row>, String> + 'a;

/// Parses a `tests:` list, reporting every problem; tests with problems are dropped.
pub fn parse(
    r: &mut Reader,
    list: &Value,
    schedule: Option<Schedule>,
    read_csv: &mut CsvReader,
) -> Vec<UnitTest> {
    let whole = r.whole();
    let block = r.nested(whole, "tests");
    let Some(items) = list.as_sequence() else {
        let span = r.key_span(whole, "tests");
        r.error(
            "invalid-test",
            span,
            "`tests` must be a list of tests",
            Some("write `tests:` then items like `- name: counts_text_only`".into()),
        );
        return Vec::new();
    };
    let scopes = r.items(block, items.len());
    let mut tests: Vec<UnitTest> = Vec::new();
    for (item, scope) in items.iter().zip(scopes) {
        let Some(map) = item.as_mapping() else {
            r.error(
                "invalid-test",
                scope.start..scope.start,
                "each test is a mapping with `name`, `given` and `expect`",
                None,
            );
            continue;
        };
        let Some(test) = parse_test(r, map, scope, schedule, read_csv) else {
            continue;
        };
        if tests.iter().any(|t| t.name == test.name) {
            r.error(
                "invalid-test",
                test.offset..test.offset + test.name.len(),
                format!("two tests are named `{}`", test.name),
                Some("give each test of a table its own name".into()),
            );
            continue;
        }
        tests.push(test);
    }
    tests
}

fn parse_test(
    r: &mut Reader,
    map: &Mapping,
    scope: Scope,
    schedule: Option<Schedule>,
    read_csv: &mut CsvReader,
) -> Option<UnitTest> {
    let problems = r.diagnostics.len();
    r.unknown_keys(map, scope, &TEST_KEYS, "a test");
    let name = r.required_string(map, scope, "name", "a test", "counts_text_only");
    let offset = r.value_span(scope, "name").start;
    let interval = r
        .string(map, scope, "interval")
        .and_then(|text| interval(r, scope, &text, schedule));
    let vars = r
        .mapping(map, scope, "vars")
        .map(|vars| {
            vars.iter()
                .filter_map(|(k, v)| {
                    Some((k.as_str()?.to_string(), serde_json::to_string(v).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let given_offset = r.key_span(scope, "given").start;
    let given = match r.mapping(map, scope, "given") {
        Some(given) => {
            let block = r.nested(scope, "given");
            parse_given(r, given, block, read_csv)
        }
        None => Vec::new(),
    };
    let expect_offset = r.key_span(scope, "expect").start;
    let expect = match map.get("expect") {
        None => {
            r.error(
                "invalid-test",
                offset..offset,
                format!(
                    "test `{}` has no `expect`",
                    name.as_deref().unwrap_or_default()
                ),
                Some("add `expect:` with the rows the SQL must produce (`[]` for none)".into()),
            );
            Vec::new()
        }
        Some(rows) => {
            let block = r.nested(scope, "expect");
            rows_of(r, rows, block, expect_offset, "expect")
        }
    };
    let name = name?;
    (r.diagnostics.len() == problems).then_some(UnitTest {
        name,
        offset,
        interval,
        vars,
        given,
        expect,
        given_offset,
        expect_offset,
    })
}

fn interval(
    r: &mut Reader,
    scope: Scope,
    text: &str,
    schedule: Option<Schedule>,
) -> Option<Timestamp> {
    let span = r.value_span(scope, "interval");
    let start = match parse_timestamp(text) {
        Ok(t) => t,
        Err(message) => {
            r.error("invalid-test", span, format!("`interval`: {message}"), None);
            return None;
        }
    };
    match schedule {
        Some(s) if !s.is_aligned(start) => {
            r.error(
                "invalid-test",
                span,
                format!(
                    "`interval` {} does not start a {} interval",
                    crate::time::format_ts(start),
                    s.name()
                ),
                Some(format!("use {}", crate::time::format_ts(s.floor(start)))),
            );
            None
        }
        _ => Some(start),
    }
}

fn parse_given(
    r: &mut Reader,
    given: &Mapping,
    scope: Scope,
    read_csv: &mut CsvReader,
) -> Vec<Given> {
    let mut out = Vec::new();
    for (key, value) in given {
        let Some(upstream) = key.as_str() else {
            continue;
        };
        let span = r.key_span(scope, upstream);
        let rows = match value {
            Value::Mapping(m) if m.contains_key("csv") => {
                match m.get("csv").and_then(Value::as_str) {
                    Some(path) => read_csv(path).unwrap_or_else(|message| {
                        r.error("invalid-test", span.clone(), message, None);
                        Vec::new()
                    }),
                    None => {
                        r.error(
                            "invalid-test",
                            span.clone(),
                            "`csv` takes a path, like `{csv: tests/users.csv}`",
                            None,
                        );
                        Vec::new()
                    }
                }
            }
            rows => {
                let block = r.nested(scope, upstream);
                rows_of(r, rows, block, span.start, upstream)
            }
        };
        out.push(Given {
            upstream: upstream.to_string(),
            rows,
            offset: span.start,
        });
    }
    out
}

/// A list of rows (`[]` for none); `at` is where problems are reported.
fn rows_of(r: &mut Reader, value: &Value, scope: Scope, at: usize, what: &str) -> Vec<Row> {
    let Some(items) = value.as_sequence() else {
        r.error(
            "invalid-test",
            at..at,
            format!(
                "`{what}` must be a list of rows like `- {{user_id: 1}}`, `[]` or `{{csv: path}}`"
            ),
            None,
        );
        return Vec::new();
    };
    let scopes = r.items(scope, items.len());
    let mut rows = Vec::with_capacity(items.len());
    for (item, scope) in items.iter().zip(scopes) {
        let Some(map) = item.as_mapping() else {
            r.error(
                "invalid-test",
                scope.start..scope.start,
                format!("each row of `{what}` is a mapping of columns to values"),
                None,
            );
            continue;
        };
        let mut row = Vec::with_capacity(map.len());
        for (column, value) in map {
            let Some(column) = column.as_str() else {
                continue;
            };
            match Cell::from_yaml(value) {
                Some(cell) => row.push((column.to_string(), cell)),
                None => {
                    let span = r.key_span(scope, column);
                    r.error(
                        "invalid-test",
                        span,
                        format!("`{column}` holds a list or mapping; a fixture cell is one value"),
                        None,
                    );
                }
            }
        }
        rows.push(row);
    }
    rows
}

/// The rows of a CSV file with a header line.
pub fn csv_rows(text: &str) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|e| e.to_string())?;
            Ok(header
                .iter()
                .cloned()
                .zip(record.iter().map(Cell::from_csv))
                .collect())
        })
        .collect()
}

/// What the tests of a table may name, once every definition is loaded.
pub struct Context<'a> {
    pub dialect: SqlDialect,
    /// The columns each node declares, by the dialect's key of its name.
    pub declared: &'a HashMap<String, Vec<String>>,
}

/// Checks the tests of a table against its upstreams: every name in `given`
/// is one the table reads, every upstream its SQL reads has rows, and every
/// column is one its table declares.
pub fn check(r: &mut Reader, table: &Table, ctx: &Context) {
    if table.tests.is_empty() {
        return;
    }
    let key = |name: &str| ctx.dialect.reference_key(name).into_owned();
    let own = key(table.name.as_str());
    let upstreams: Vec<(String, &str)> = table
        .upstreams
        .iter()
        .map(|u| (key(u.as_str()), u.as_str()))
        .collect();
    let read: BTreeSet<&str> = table
        .reference_offsets
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    for test in &table.tests {
        for given in &test.given {
            let given_key = key(&given.upstream);
            if given_key != own && !upstreams.iter().any(|(k, _)| *k == given_key) {
                let names: Vec<&str> = upstreams.iter().map(|(_, n)| *n).collect();
                let help = match suggest(&given.upstream, &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if names.is_empty() => "the SQL reads no tables".to_string(),
                    None => format!("the SQL reads {}", names.join(", ")),
                };
                r.error(
                    "unknown-test-upstream",
                    given.offset..given.offset + given.upstream.len(),
                    format!(
                        "test `{}` gives rows for `{}`, which `{}` does not read",
                        test.name, given.upstream, table.name
                    ),
                    Some(help),
                );
                continue;
            }
            let declared = ctx.declared.get(&given_key);
            undeclared_columns(
                r,
                &test.name,
                &given.upstream,
                declared,
                &given.rows,
                given.offset,
            );
        }
        for upstream in &read {
            let upstream_key = key(upstream);
            if !test.given.iter().any(|g| key(&g.upstream) == upstream_key) {
                r.error(
                    "missing-test-given",
                    test.given_offset..test.given_offset,
                    format!(
                        "test `{}` gives no rows for `{upstream}`, which the SQL reads",
                        test.name
                    ),
                    Some(format!(
                        "add `{upstream}: []` under `given` (or rows for it)"
                    )),
                );
            }
        }
        let declared = (!table.columns.is_empty())
            .then(|| table.columns.iter().map(|c| c.name.clone()).collect());
        undeclared_columns(
            r,
            &test.name,
            table.name.as_str(),
            declared.as_ref(),
            &test.expect,
            test.expect_offset,
        );
    }
}

fn undeclared_columns(
    r: &mut Reader,
    test: &str,
    table: &str,
    declared: Option<&Vec<String>>,
    rows: &[Row],
    at: usize,
) {
    let Some(declared) = declared else {
        return;
    };
    let mut reported = BTreeSet::new();
    for (column, _) in rows.iter().flatten() {
        let known = declared.iter().any(|d| d.eq_ignore_ascii_case(column));
        if known || !reported.insert(column.as_str()) {
            continue;
        }
        let names: Vec<&str> = declared.iter().map(String::as_str).collect();
        let help = match suggest(column, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("`{table}` declares {}", names.join(", ")),
        };
        r.error(
            "unknown-test-column",
            at..at,
            format!("test `{test}` names column `{column}`, which `{table}` does not declare"),
            Some(help),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_raw_and_empty_fields_null() {
        let rows = csv_rows("user_id, name\n1,ann\n2,\n").unwrap();
        assert_eq!(
            rows,
            vec![
                vec![
                    ("user_id".to_string(), Cell::Raw("1".into())),
                    ("name".to_string(), Cell::Raw("ann".into()))
                ],
                vec![
                    ("user_id".to_string(), Cell::Raw("2".into())),
                    ("name".to_string(), Cell::Null)
                ],
            ]
        );
        assert!(csv_rows("a,b\n1,2,3\n").is_err());
    }
}
