//! `derived test`: the unit tests of the selected tables, on fixture rows.

use super::{open_warehouse, Loaded};
use crate::project::{Table, TableName, WarehouseConfig};
use crate::testing::{self, TestOutcome};
use crate::warehouse::duckdb::DuckDbWarehouse;
use crate::warehouse::Warehouse;
use anyhow::Result;
use std::collections::BTreeSet;

/// Runs the tests of the selected tables (all when None); no warehouse is
/// opened when none of them has a test.
pub fn test_tables(
    loaded: &Loaded,
    selected: Option<&BTreeSet<TableName>>,
) -> Result<Vec<TestOutcome>> {
    let tables: Vec<&Table> = loaded
        .project
        .tables()
        .filter(|t| !t.tests.is_empty() && selected.is_none_or(|s| s.contains(&t.name)))
        .collect();
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let warehouse = test_warehouse(&loaded.project.config.warehouse)?;
    Ok(testing::run(&loaded.project, warehouse.as_ref(), &tables))
}

/// On DuckDB, tests run in an in-memory database of their own: every row they
/// read is a literal, so the warehouse file is neither needed nor touched.
/// Other warehouses run them as read-only queries.
fn test_warehouse(config: &WarehouseConfig) -> Result<Box<dyn Warehouse>> {
    Ok(match config {
        WarehouseConfig::DuckDb { .. } => Box::new(DuckDbWarehouse::in_memory()?),
        other => open_warehouse(other, true)?,
    })
}
