//! Table names, as definitions spell them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A `dataset.table` (or `project.dataset.table`) name, spelled exactly as its
/// definition writes it (SPEC §10.1). Whether two spellings name the same table
/// is the dialect's rule (`crate::project::dialect::SqlDialect::definition_key`);
/// once a project is loaded every name in it is the definition's spelling, so
/// names compare exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TableName(String);

impl TableName {
    pub fn parse(text: &str) -> Result<TableName, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let valid_part = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !p.starts_with(|c: char| c.is_ascii_digit())
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid_part) {
            return Err(format!(
                "`{text}` is not a table name; write `dataset.table` (letters, digits and _), e.g. `core.daily_active_users`"
            ));
        }
        Ok(TableName(text.to_string()))
    }

    /// A name taken as it is: from the log, or from the SQL reference extractor.
    pub fn from_reference(text: &str) -> TableName {
        TableName(text.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn dataset(&self) -> &str {
        let mut parts = self.0.rsplitn(2, '.');
        parts.next();
        parts.next().unwrap_or("")
    }

    pub fn table(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
