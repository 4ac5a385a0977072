//! DuckDB's own parser, in process, as the authority on DuckDB SQL that
//! sqlparser cannot parse: `json_serialize_sql` parses a query without running
//! it and returns its syntax tree, or the syntax error with its position.
//!
//! A syntax error there is a syntax error in the warehouse, so `validate`
//! reports it; a query it parses yields its table references from DuckDB's
//! tree instead of a token scan.

use super::refs::{Reference, SqlSyntaxError};
use duckdb::Connection;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashSet;

thread_local! {
    /// One in-memory database per loader thread, opened on first use.
    static PARSER: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// The tables `sql` reads, or DuckDB's syntax error; None when DuckDB could
/// not be asked.
pub fn references(sql: &str) -> Option<Result<Vec<Reference>, SqlSyntaxError>> {
    let tree = serialize(sql)?;
    Some(references_in(&tree))
}

fn serialize(sql: &str) -> Option<Value> {
    PARSER.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Connection::open_in_memory().ok();
        }
        let connection = cell.as_ref()?;
        let text: String = connection
            .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |row| {
                row.get(0)
            })
            .ok()?;
        serde_json::from_str(&text).ok()
    })
}

fn references_in(tree: &Value) -> Result<Vec<Reference>, SqlSyntaxError> {
    if tree["error"].as_bool() == Some(true) {
        let message = tree["error_message"].as_str().unwrap_or("syntax error");
        let offset = tree["position"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        return Err(SqlSyntaxError {
            message: format!("{message} (DuckDB)"),
            offset,
        });
    }
    let statements = tree["statements"].as_array().map_or(0, Vec::len);
    if statements != 1 {
        return Err(SqlSyntaxError {
            message: format!(
                "expected one query, found {statements} statements; remove all but one"
            ),
            offset: 0,
        });
    }
    let mut ctes = HashSet::new();
    let mut tables = Vec::new();
    walk(tree, &mut ctes, &mut tables);
    let mut seen = HashSet::new();
    let mut found: Vec<Reference> = tables
        .into_iter()
        .filter(|(parts, _)| match parts.as_slice() {
            [single] => !ctes.contains(&single.to_lowercase()) && !looks_like_a_file(single),
            _ => true,
        })
        .map(|(parts, offset)| Reference {
            name: parts.join("."),
            span: offset..offset,
        })
        .collect();
    found.sort_by_key(|r| r.span.start);
    found.retain(|r| seen.insert(r.name.clone()));
    Ok(found)
}

/// Every `BASE_TABLE` (its non-empty name parts and position) and every CTE name.
fn walk(node: &Value, ctes: &mut HashSet<String>, tables: &mut Vec<(Vec<String>, usize)>) {
    match node {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("BASE_TABLE") {
                let parts: Vec<String> = ["catalog_name", "schema_name", "table_name"]
                    .iter()
                    .filter_map(|key| map.get(*key).and_then(Value::as_str))
                    .filter(|part| !part.is_empty())
                    .map(str::to_string)
                    .collect();
                let offset = map
                    .get("query_location")
                    .and_then(Value::as_u64)
                    .and_then(|o| usize::try_from(o).ok())
                    .unwrap_or(0);
                tables.push((parts, offset));
            }
            if let Some(entries) = map
                .get("cte_map")
                .and_then(|m| m.get("map"))
                .and_then(Value::as_array)
            {
                ctes.extend(
                    entries
                        .iter()
                        .filter_map(|e| e["key"].as_str())
                        .map(str::to_lowercase),
                );
            }
            map.values().for_each(|v| walk(v, ctes, tables));
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, ctes, tables)),
        _ => {}
    }
}

/// `FROM 'data/events.parquet'`: DuckDB reads the file directly.
fn looks_like_a_file(name: &str) -> bool {
    name.contains('/') || name.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<String> {
        references(sql)
            .expect("DuckDB answers")
            .expect("parses")
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    #[test]
    fn syntax_error_comes_with_duckdb_message_and_position() {
        let sql = "SELECT n FROM core.ok WHERE WHERE n > 1";
        let error = references(sql).unwrap().unwrap_err();
        assert!(error.message.contains("syntax error"), "{}", error.message);
        assert_eq!(error.offset, sql.rfind("WHERE").unwrap());
    }

    #[test]
    fn tables_come_from_duckdb_tree_without_ctes_or_files() {
        let sql = "WITH recent AS (SELECT * FROM raw.events USING SAMPLE 10%) \
                   SELECT * FROM recent JOIN \"Core\".users u USING (id), 'data/x.parquet'";
        assert_eq!(names(sql), ["raw.events", "Core.users"]);
    }

    #[test]
    fn reference_offsets_point_at_the_name() {
        let sql = "SELECT email FROM raw.u USING SAMPLE 100%";
        let found = references(sql).unwrap().unwrap();
        assert_eq!(found[0].span.start, sql.find("raw.u").unwrap());
    }

    #[test]
    fn several_statements_are_an_error() {
        assert!(references("SELECT 1; SELECT 2").unwrap().is_err());
    }
}
