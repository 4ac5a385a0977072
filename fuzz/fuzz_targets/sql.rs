//! Jinja rendering, reference extraction and column lineage in every dialect.
#![no_main]

use derived::project::refs::{extract_references, SqlDialect};
use derived::project::template::{RenderContext, Renderer};
use derived::time::{Interval, Schedule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(sql) = std::str::from_utf8(rest) else { return };
    let dialect = [SqlDialect::DuckDb, SqlDialect::BigQuery, SqlDialect::Postgres, SqlDialect::Generic][selector as usize % 4];
    let day: Interval = Schedule::Daily.interval_at(chrono::DateTime::UNIX_EPOCH);
    let ctx = RenderContext { input: day, interval: day, this: "core.t", env: "prod", is_first_build: false, rows: None };
    let rendered = Renderer::new(Default::default(), dialect).render(sql, &ctx).unwrap_or_else(|_| sql.to_string());
    let _ = extract_references(&rendered, dialect, Some("proj"));
    let columns_of = |_: &str| Some(vec!["a".to_string(), "b".to_string()]);
    let _ = derived::lineage::columns::column_lineage(&rendered, dialect.parser_dialect().as_ref(), Some("proj"), &columns_of);
});
