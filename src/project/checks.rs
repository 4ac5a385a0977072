//! Data checks (write–audit–publish): rules on the rows a run produced, run
//! inside the write before anything is published, and on demand.
//!
//! A check becomes one query returning the offending rows of a `rows` relation,
//! written by each warehouse in its dialect; the warehouse substitutes its
//! staging relation for [`ROWS`].

use crate::env::PhysicalName;
use crate::project::TableName;
use crate::time::Duration;
use serde::{Deserialize, Serialize};

/// Placeholder for the relation holding the rows under check.
pub const ROWS: &str = "__derived_rows__";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckSeverity {
    Error,
    Warn,
}

impl CheckSeverity {
    pub fn name(self) -> &'static str {
        match self {
            CheckSeverity::Error => "error",
            CheckSeverity::Warn => "warn",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    NotNull(Vec<String>),
    Unique(Vec<String>),
    AcceptedValues {
        column: String,
        values: Vec<String>,
    },
    Range {
        column: String,
        min: Option<String>,
        max: Option<String>,
    },
    Relationship {
        column: String,
        table: TableName,
        to: String,
    },
    RowCount {
        min: Option<u64>,
        max: Option<u64>,
    },
    /// A templated query returning offending rows; `{{ rows }}` is the rows under check.
    Sql(String),
    /// Not a rule on rows: `status` reports `late` past this lag.
    Freshness {
        max_lag: Duration,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub rule: Rule,
    pub severity: CheckSeverity,
}

impl Check {
    /// A stable, readable name: `unique(user_id)`, `range(dau)`, `sql#2`
    /// (`index` counts the table's `sql` checks).
    pub fn name(&self, index: usize) -> String {
        match &self.rule {
            Rule::NotNull(c) => format!("not_null({})", c.join(", ")),
            Rule::Unique(c) => format!("unique({})", c.join(", ")),
            Rule::AcceptedValues { column, .. } => format!("accepted_values({column})"),
            Rule::Range { column, .. } => format!("range({column})"),
            Rule::Relationship { column, table, to } => {
                format!("relationship({column} -> {table}.{to})")
            }
            Rule::RowCount { .. } => "row_count".to_string(),
            Rule::Sql(_) => format!("sql#{}", index + 1),
            Rule::Freshness { .. } => "freshness".to_string(),
        }
    }

    /// Columns of the checked table the rule names.
    pub fn columns(&self) -> Vec<&str> {
        match &self.rule {
            Rule::NotNull(c) | Rule::Unique(c) => c.iter().map(String::as_str).collect(),
            Rule::AcceptedValues { column, .. }
            | Rule::Range { column, .. }
            | Rule::Relationship { column, .. } => vec![column],
            _ => Vec::new(),
        }
    }
}

/// Every check's name, `sql` checks numbered in the order written.
pub fn names(checks: &[Check]) -> Vec<String> {
    let mut sql_checks = 0;
    checks
        .iter()
        .map(|c| {
            let name = c.name(sql_checks);
            sql_checks += usize::from(matches!(c.rule, Rule::Sql(_)));
            name
        })
        .collect()
}

/// A check ready to run on some rows: each warehouse writes its query.
#[derive(Clone, Debug)]
pub struct PreparedCheck {
    pub name: String,
    pub severity: CheckSeverity,
    pub query: CheckQuery,
}

#[derive(Clone, Debug)]
pub enum CheckQuery {
    /// A rule on rows; `related` is where a relationship's table lives.
    Rule {
        rule: Rule,
        related: Option<PhysicalName>,
    },
    /// A `sql` check, rendered: a query returning offending rows of [`ROWS`].
    Sql(String),
}

/// What a check found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckOutcome {
    pub name: String,
    pub severity: CheckSeverity,
    pub failing_rows: u64,
    /// Up to five offending rows, as JSON objects.
    pub sample: Vec<serde_json::Value>,
}

impl CheckOutcome {
    pub fn passed(&self) -> bool {
        self.failing_rows == 0
    }
}

/// Rows shown in a failure message and kept in the log.
pub const SAMPLE_ROWS: usize = 5;

pub fn failure_message(outcome: &CheckOutcome) -> String {
    let sample: Vec<String> = outcome.sample.iter().map(|r| r.to_string()).collect();
    format!(
        "check {} failed: {} offending row(s), e.g. {}",
        outcome.name,
        outcome.failing_rows,
        sample.join(", ")
    )
}

/// A YAML scalar as a SQL literal.
pub fn literal(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string().to_uppercase()),
        serde_yaml::Value::String(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule: Rule) -> Check {
        Check {
            rule,
            severity: CheckSeverity::Error,
        }
    }

    #[test]
    fn checks_are_named_stably_and_values_become_literals() {
        let checks = [
            check(Rule::Unique(vec!["day".into(), "platform".into()])),
            check(Rule::Sql("SELECT 1".into())),
            check(Rule::Freshness {
                max_lag: Duration::from_seconds(60),
            }),
            check(Rule::Sql("SELECT 2".into())),
        ];
        assert_eq!(
            names(&checks),
            ["unique(day, platform)", "sql#1", "freshness", "sql#2"]
        );
        assert_eq!(
            literal(&serde_yaml::Value::String("it's".into())).unwrap(),
            "'it''s'"
        );
    }
}
