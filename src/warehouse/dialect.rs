//! How each warehouse spells identifiers, table names and time filters, and the
//! SQL every backend shares written once over those spellings: check queries,
//! merge rules and the rows of a table within an interval. Nothing outside
//! `warehouse/` writes dialect SQL; it asks the warehouse's [`Dialect`].

use crate::env::PhysicalName;
use crate::project::checks::{CheckQuery, PreparedCheck, Rule, ROWS};
use crate::project::unit_test::Cell;
use crate::project::MergeRule;
use crate::time::{Interval, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB and PostgreSQL: `"quoted"` identifiers.
    Ansi,
    /// BigQuery: `` `quoted` `` identifiers, case kept.
    BigQuery,
}

/// Rows of a table whose time column falls in an interval.
#[derive(Clone, Copy, Debug)]
pub struct Within<'a> {
    pub time_column: &'a str,
    pub interval: Interval,
}

impl Dialect {
    /// An identifier as SQL: left bare when the engine reads it back unchanged
    /// (plain, not a reserved word, and on PostgreSQL lower case).
    pub fn quote(self, ident: &str) -> String {
        let bare = match self {
            // PostgreSQL folds bare names to lower case, so anything else is quoted.
            Dialect::Ansi => {
                is_plain(ident)
                    && !ident.chars().any(|c| c.is_ascii_uppercase())
                    && !is_reserved(ANSI_RESERVED, ident)
            }
            Dialect::BigQuery => is_plain(ident) && !is_reserved(BIGQUERY_RESERVED, ident),
        };
        match self {
            _ if bare => ident.to_string(),
            Dialect::Ansi => format!("\"{}\"", ident.replace('"', "\"\"")),
            Dialect::BigQuery => {
                format!("`{}`", ident.replace('\\', "\\\\").replace('`', "\\`"))
            }
        }
    }

    /// `schema.table` as written in SQL. A name of letters, digits and `_` is
    /// left bare, as the definition writes it, so the engine resolves it as it
    /// resolves the same name in a reader's SQL (PostgreSQL folds it to lower
    /// case; DuckDB matches any case; BigQuery keeps it).
    pub fn table(self, name: &PhysicalName) -> String {
        format!("{}.{}", self.name(&name.schema), self.name(&name.table))
    }

    /// A schema or table name: bare when plain, in any case (see [`Dialect::table`]).
    pub fn name(self, part: &str) -> String {
        let reserved = match self {
            Dialect::Ansi => ANSI_RESERVED,
            Dialect::BigQuery => BIGQUERY_RESERVED,
        };
        if is_plain(part) && !is_reserved(reserved, part) {
            part.to_string()
        } else {
            self.quote(part)
        }
    }

    /// A UTC instant; every dialect reads this literal alike.
    pub fn timestamp(self, t: Timestamp) -> String {
        format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
    }

    /// The rows of `name`, all of them or those `within` an interval, as a relation.
    pub fn rows_in(self, name: &PhysicalName, within: Option<Within>) -> String {
        let table = self.table(name);
        match within {
            None => format!("(SELECT * FROM {table})"),
            Some(w) => format!(
                "(SELECT * FROM {table} WHERE {c} >= {} AND {c} < {})",
                self.timestamp(w.interval.start()),
                self.timestamp(w.interval.end()),
                c = self.quote(w.time_column)
            ),
        }
    }

    /// The query returning the offending rows of [`ROWS`] (whose relation the
    /// warehouse substitutes).
    pub fn offending_rows(self, check: &PreparedCheck) -> String {
        let q = |c: &str| self.quote(c);
        let rule = match &check.query {
            CheckQuery::Sql(sql) => return sql.trim().trim_end_matches(';').to_string(),
            CheckQuery::Rule { rule, related } => (rule, related),
        };
        match rule {
            (Rule::NotNull(columns), _) => {
                let any_null: Vec<String> =
                    columns.iter().map(|c| format!("{} IS NULL", q(c))).collect();
                format!("SELECT * FROM {ROWS} WHERE {}", any_null.join(" OR "))
            }
            (Rule::Unique(columns), _) => {
                let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
                let cols = cols.join(", ");
                format!("SELECT {cols}, count(*) AS duplicates FROM {ROWS} GROUP BY {cols} HAVING count(*) > 1")
            }
            (Rule::AcceptedValues { column, values }, _) => format!(
                "SELECT * FROM {ROWS} WHERE {c} IS NOT NULL AND {c} NOT IN ({})",
                values.join(", "),
                c = q(column)
            ),
            (Rule::Range { column, min, max }, _) => {
                let mut outside = Vec::new();
                if let Some(min) = min {
                    outside.push(format!("{} < {min}", q(column)));
                }
                if let Some(max) = max {
                    outside.push(format!("{} > {max}", q(column)));
                }
                format!("SELECT * FROM {ROWS} WHERE {}", outside.join(" OR "))
            }
            (Rule::Relationship { column, to, .. }, related) => format!(
                "SELECT * FROM {ROWS} AS r WHERE r.{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS t WHERE t.{} = r.{c})",
                related.as_ref().map_or_else(String::new, |t| self.table(t)),
                q(to),
                c = q(column)
            ),
            (Rule::RowCount { min, max }, _) => {
                let mut outside = Vec::new();
                if let Some(min) = min {
                    outside.push(format!("count(*) < {min}"));
                }
                if let Some(max) = max {
                    outside.push(format!("count(*) > {max}"));
                }
                format!("SELECT count(*) AS row_count FROM {ROWS} HAVING {}", outside.join(" OR "))
            }
            // Never prepared as rules: a `sql` check arrives rendered, freshness is no rule on rows.
            (Rule::Sql(_) | Rule::Freshness { .. }, _) => format!("SELECT * FROM {ROWS} WHERE 1 = 0"),
        }
    }

    /// A string literal.
    pub fn string(self, s: &str) -> String {
        match self {
            Dialect::Ansi => format!("'{}'", s.replace('\'', "''")),
            Dialect::BigQuery => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        }
    }

    /// Fixture rows as a query: one `SELECT` of literals per row, each cast to
    /// its column's declared type (when declared), joined by `UNION ALL`; no
    /// rows is an empty relation of the same columns.
    pub fn fixture_rows(self, columns: &[(&str, Option<&str>)], rows: &[Vec<&Cell>]) -> String {
        let select = |cells: Option<&Vec<&Cell>>| -> String {
            let values: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, (name, data_type))| {
                    let cell = cells.map_or(&Cell::Null, |c| c[i]);
                    let literal = self.cell(cell, data_type.is_some());
                    let value = match data_type {
                        Some(t) => format!("CAST({literal} AS {t})"),
                        None => literal,
                    };
                    format!("{value} AS {}", self.quote(name))
                })
                .collect();
            format!("SELECT {}", values.join(", "))
        };
        if rows.is_empty() {
            return format!("{} LIMIT 0", select(None));
        }
        let selects: Vec<String> = rows.iter().map(|row| select(Some(row))).collect();
        selects.join(" UNION ALL ")
    }

    fn cell(self, cell: &Cell, typed: bool) -> String {
        match cell {
            Cell::Null => "NULL".to_string(),
            Cell::Bool(b) => b.to_string().to_uppercase(),
            Cell::Number(n) => n.clone(),
            Cell::Raw(s) if !typed && s.parse::<f64>().is_ok_and(f64::is_finite) => s.clone(),
            Cell::Text(s) | Cell::Raw(s) => self.string(s),
        }
    }

    /// A merge rule as the new value of `column`, combining the target's row
    /// `t` with the incoming `s`; None keeps the target's value.
    pub fn merged(self, column: &str, rule: MergeRule) -> Option<String> {
        let (t, s) = (
            format!("t.{}", self.quote(column)),
            format!("s.{}", self.quote(column)),
        );
        let either = |both: String| {
            format!("CASE WHEN {s} IS NULL THEN {t} WHEN {t} IS NULL THEN {s} ELSE {both} END")
        };
        match rule {
            MergeRule::Min => Some(either(format!("LEAST({t}, {s})"))),
            MergeRule::Max => Some(either(format!("GREATEST({t}, {s})"))),
            MergeRule::Sum => Some(either(format!("{t} + {s}"))),
            MergeRule::Overwrite => Some(s),
            MergeRule::Keep => None,
        }
    }
}

/// BigQuery's reserved keywords (GoogleSQL lexical structure), sorted.
#[rustfmt::skip]
const BIGQUERY_RESERVED: &[&str] = &[
    "ALL", "AND", "ANY", "ARRAY", "AS", "ASC", "ASSERT_ROWS_MODIFIED", "AT", "BETWEEN", "BY",
    "CASE", "CAST", "COLLATE", "CONTAINS", "CREATE", "CROSS", "CUBE", "CURRENT", "DEFAULT",
    "DEFINE", "DESC", "DISTINCT", "ELSE", "END", "ENUM", "ESCAPE", "EXCEPT", "EXCLUDE",
    "EXISTS", "EXTRACT", "FALSE", "FETCH", "FOLLOWING", "FOR", "FROM", "FULL", "GROUP",
    "GROUPING", "GROUPS", "HASH", "HAVING", "IF", "IGNORE", "IN", "INNER", "INTERSECT",
    "INTERVAL", "INTO", "IS", "JOIN", "LATERAL", "LEFT", "LIKE", "LIMIT", "LOOKUP", "MERGE",
    "NATURAL", "NEW", "NO", "NOT", "NULL", "NULLS", "OF", "ON", "OR", "ORDER", "OUTER", "OVER",
    "PARTITION", "PRECEDING", "PROTO", "QUALIFY", "RANGE", "RECURSIVE", "RESPECT", "RIGHT",
    "ROLLUP", "ROWS", "SELECT", "SET", "SOME", "STRUCT", "TABLESAMPLE", "THEN", "TO", "TREAT",
    "TRUE", "UNBOUNDED", "UNION", "UNNEST", "USING", "WHEN", "WHERE", "WINDOW", "WITH",
    "WITHIN",
];

/// Words DuckDB or PostgreSQL reserve as column names, sorted.
#[rustfmt::skip]
const ANSI_RESERVED: &[&str] = &[
    "ALL", "ANALYSE", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ASC", "ASYMMETRIC", "BOTH",
    "CASE", "CAST", "CHECK", "COLLATE", "COLUMN", "CONSTRAINT", "CREATE", "CURRENT_CATALOG",
    "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER",
    "DEFAULT", "DEFERRABLE", "DESC", "DESCRIBE", "DISTINCT", "DO", "ELSE", "END", "EXCEPT",
    "FALSE", "FETCH", "FOR", "FOREIGN", "FROM", "GRANT", "GROUP", "HAVING", "IN", "INITIALLY",
    "INTERSECT", "INTO", "LATERAL", "LEADING", "LIMIT", "LOCALTIME", "LOCALTIMESTAMP", "NOT",
    "NULL", "OFFSET", "ON", "ONLY", "OR", "ORDER", "PIVOT", "PIVOT_LONGER", "PIVOT_WIDER",
    "PLACING", "PRIMARY", "QUALIFY", "REFERENCES", "RETURNING", "SELECT", "SESSION_USER",
    "SHOW", "SOME", "SUMMARIZE", "SYMMETRIC", "TABLE", "THEN", "TO", "TRAILING", "TRUE",
    "UNION", "UNIQUE", "UNPIVOT", "USER", "USING", "VARIADIC", "WHEN", "WHERE", "WINDOW",
    "WITH",
];

fn is_reserved(words: &[&str], ident: &str) -> bool {
    words
        .binary_search_by(|w| w.cmp(&ident.to_ascii_uppercase().as_str()))
        .is_ok()
}

fn is_plain(ident: &str) -> bool {
    !ident.is_empty()
        && ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !ident.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::checks::CheckSeverity;

    fn prepared(rule: Rule) -> PreparedCheck {
        PreparedCheck {
            name: "c".into(),
            severity: CheckSeverity::Error,
            query: CheckQuery::Rule {
                rule,
                related: None,
            },
        }
    }

    #[test]
    fn checks_quote_mixed_case_columns_in_each_dialect() {
        let range = prepared(Rule::Range {
            column: "DailyActiveUsers".into(),
            min: Some("0".into()),
            max: None,
        });
        assert_eq!(
            Dialect::Ansi.offending_rows(&range),
            format!("SELECT * FROM {ROWS} WHERE \"DailyActiveUsers\" < 0")
        );
        assert_eq!(
            Dialect::BigQuery.offending_rows(&range),
            format!("SELECT * FROM {ROWS} WHERE DailyActiveUsers < 0")
        );
        let unique = prepared(Rule::Unique(vec!["day".into(), "my col".into()]));
        assert_eq!(
            Dialect::BigQuery.offending_rows(&unique),
            format!("SELECT day, `my col`, count(*) AS duplicates FROM {ROWS} GROUP BY day, `my col` HAVING count(*) > 1")
        );
    }

    #[test]
    fn reserved_words_are_quoted() {
        assert_eq!(Dialect::BigQuery.quote("Group"), "`Group`");
        assert_eq!(Dialect::BigQuery.quote("day"), "day");
        assert_eq!(Dialect::Ansi.quote("order"), "\"order\"");
        assert_eq!(Dialect::Ansi.quote("hour"), "hour");
        for words in [BIGQUERY_RESERVED, ANSI_RESERVED] {
            assert!(
                words.windows(2).all(|w| w[0] < w[1]),
                "sorted for binary search"
            );
        }
    }

    #[test]
    fn tables_stay_bare_when_plain() {
        let name = PhysicalName {
            schema: "Core".into(),
            table: "my table".into(),
        };
        assert_eq!(Dialect::Ansi.table(&name), "Core.\"my table\"");
        assert_eq!(Dialect::BigQuery.table(&name), "Core.`my table`");
    }
}
