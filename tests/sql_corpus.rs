//! How much real BigQuery SQL reaches an AST: every query of
//! `tests/corpus/bigquery/` is parsed as the loader parses a definition's SQL,
//! and the share that parses (rather than falling back to the token scan) must
//! stay at or above 99.5%. The figure and every query that falls back are
//! printed (`cargo test --release --test sql_corpus -- --nocapture`).

use derived::project::columns::column_lineage;
use derived::project::refs::{extract_references, SqlDialect};
use std::path::PathBuf;
use std::time::Instant;

fn corpus() -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bigquery");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

#[test]
fn real_bigquery_sql_reaches_an_ast() {
    let queries = corpus();
    assert!(
        queries.len() >= 200,
        "the corpus holds {} queries",
        queries.len()
    );
    let lines: usize = queries.iter().map(|(_, sql)| sql.lines().count()).sum();
    let started = Instant::now();
    let mut parsed = 0;
    let mut problems = Vec::new();
    for (path, sql) in &queries {
        let name = path.file_name().unwrap().to_string_lossy();
        match extract_references(sql, SqlDialect::BigQuery, Some("my-project")) {
            Ok(x) if x.fallback_warning.is_none() => parsed += 1,
            Ok(x) => problems.push(format!("{name}: {}", x.fallback_warning.unwrap())),
            Err(e) => problems.push(format!("{name}: syntax error: {e}")),
        }
    }
    let elapsed = started.elapsed();
    let rate = 100.0 * parsed as f64 / queries.len() as f64;
    println!(
        "AST parse rate: {parsed}/{} queries ({rate:.2}%), {lines} lines, parsed in {:.1} ms",
        queries.len(),
        elapsed.as_secs_f64() * 1e3
    );
    for problem in &problems {
        println!("  falls back: {problem}");
    }
    assert!(rate >= 99.5, "AST parse rate {rate:.2}% is below 99.5%");
}

#[test]
fn column_lineage_reads_every_query_the_extractor_reads() {
    let unknown_columns = |_: &str| None;
    let queries = corpus();
    let mut complete = 0;
    let mut unreadable = Vec::new();
    for (path, sql) in &queries {
        let lineage = column_lineage(
            sql,
            SqlDialect::BigQuery,
            Some("my-project"),
            &unknown_columns,
        );
        complete += usize::from(lineage.columns_complete);
        if lineage.gaps.iter().any(|g| g.contains("does not parse")) {
            unreadable.push(format!("{}: {:?}", path.display(), lineage.gaps));
        }
    }
    println!(
        "output columns fully known without any upstream schema: {complete}/{}",
        queries.len()
    );
    assert!(
        unreadable.len() <= queries.len() / 200,
        "lineage cannot read:\n{}",
        unreadable.join("\n")
    );
}
