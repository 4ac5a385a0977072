//! CQL for Scylla/Cassandra exports. Partition key = the export key plus an
//! optional time bucket (`bucket: 10d`) so partitions stay bounded; inserts
//! name only the non-null columns of a row, so no tombstones are written.

use super::flat_name;
use crate::project::{Export, Table};
use crate::warehouse::Dialect;

/// The CQL type for a warehouse (DuckDB) column type.
pub fn column_type(warehouse_type: &str) -> &'static str {
    let t = warehouse_type.to_ascii_uppercase();
    match t.as_str() {
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" => "bigint",
        "DOUBLE" | "FLOAT" | "REAL" => "double",
        "BOOLEAN" => "boolean",
        "DATE" => "date",
        "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" => "timestamp",
        _ if t.starts_with("DECIMAL") || t == "HUGEINT" => "decimal",
        _ => "text",
    }
}

pub fn create_table(
    keyspace: &str,
    table: &Table,
    export: &Export,
    columns: &[(String, String)],
) -> String {
    let mut defs: Vec<String> = columns
        .iter()
        .map(|(c, t)| format!("{} {}", quote(c), column_type(t)))
        .collect();
    let mut partition: Vec<String> = export.key.iter().map(|k| quote(k)).collect();
    if export.bucket.is_some() {
        defs.push("bucket bigint".into());
        partition.push("bucket".into());
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {keyspace}.{} ({}, PRIMARY KEY (({})))",
        flat_name(table),
        defs.join(", "),
        partition.join(", ")
    )
}

/// An INSERT of the given (column, literal) pairs: null columns are left out.
pub fn insert(
    keyspace: &str,
    table: &Table,
    export: &Export,
    values: &[(String, Option<String>)],
    event_seconds: Option<i64>,
) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut literals: Vec<String> = Vec::new();
    for (column, value) in values {
        if let Some(v) = value {
            names.push(quote(column));
            literals.push(v.clone());
        }
    }
    if let (Some(bucket), Some(t)) = (export.bucket, event_seconds) {
        names.push("bucket".into());
        literals.push((t / bucket.seconds()).to_string());
    }
    let ttl = export
        .ttl
        .map(|t| format!(" USING TTL {}", t.seconds()))
        .unwrap_or_default();
    format!(
        "INSERT INTO {keyspace}.{} ({}) VALUES ({}){ttl}",
        flat_name(table),
        names.join(", "),
        literals.join(", ")
    )
}

/// Quoted like CQL's identifiers: anything but a plain lowercase name.
fn quote(ident: &str) -> String {
    Dialect::Ansi.quote(ident)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::TableName;
    use crate::time::Duration;

    fn table() -> Table {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tables")).unwrap();
        std::fs::write(
            dir.path().join("tables/t.yml"),
            "name: core.features\nschedule: daily\nstart: 2024-01-01\nsql: SELECT 1 AS user_id\n",
        )
        .unwrap();
        let project = crate::project::load(dir.path());
        project
            .table(&TableName::parse("core.features").unwrap())
            .unwrap()
            .clone()
    }

    #[test]
    fn cql_partitions_by_key_and_bucket_and_writes_no_nulls() {
        let export = Export {
            to: "scylla".into(),
            key: vec!["user_id".into()],
            ttl: Some(Duration::from_seconds(60)),
            bucket: Some(Duration::parse("10d").unwrap()),
        };
        let columns = [
            ("user_id".to_string(), "BIGINT".to_string()),
            ("score".to_string(), "DOUBLE".to_string()),
        ];
        assert_eq!(
            create_table("features", &table(), &export, &columns),
            "CREATE TABLE IF NOT EXISTS features.core_features (user_id bigint, score double, bucket bigint, PRIMARY KEY ((user_id, bucket)))"
        );
        let values = [
            ("user_id".to_string(), Some("7".to_string())),
            ("score".to_string(), None),
        ];
        assert_eq!(
            insert(
                "features",
                &table(),
                &export,
                &values,
                Some(864_000 * 3 + 5)
            ),
            "INSERT INTO features.core_features (user_id, bucket) VALUES (7, 3) USING TTL 60"
        );
    }
}
