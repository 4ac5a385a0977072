//! What defines each output column of a table, as a hash per column, so that a
//! changed definition can be compared with the one that built the table column
//! by column (SPEC §10.3).
//!
//! A column's hash covers its own expression and everything that shapes the
//! rows: the query without its select list (FROM, joins, filters, grouping,
//! windows, CTEs) and the table's settings. So editing one column's expression
//! changes that column only, while a new filter or join changes them all.
//! Columns a `*` produces share the entry [`STAR`]. A query whose top level is
//! not one `SELECT` (a `UNION`, say), or a select item without a name, has no
//! per-column answer: the caller falls back to "everything changed".

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use sqlparser::ast::{
    Expr, GroupByExpr, OrderBy, OrderByKind, Select, SelectItem, SetExpr, Statement,
};

use crate::project::dialect::SqlDialect;

/// The entry of every column that a `*` produces.
pub const STAR: &str = "*";

/// The entry of what shapes the rows: when it differs, so may every row, and
/// a reader that only counts rows is affected too.
pub const ROWS: &str = "";

/// The prefix of the entries that keep a declared column's type (no column
/// name holds a NUL), so that a retyped column can be told.
pub const TYPE: &str = "\u{0}type ";

/// Whether an entry of the map is an output column (not [`ROWS`], [`STAR`] or a type).
pub fn is_column(key: &str) -> bool {
    key != ROWS && key != STAR && !key.starts_with(TYPE)
}

/// The declared types of `columns` (name, type) as entries of the map.
pub fn type_entries<'a>(
    columns: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, String)> {
    columns
        .map(|(name, data_type)| {
            (
                format!("{TYPE}{}", name.to_lowercase()),
                data_type.to_ascii_uppercase(),
            )
        })
        .collect()
}

/// Columns declared in both with different types: `(column, old, new)`.
pub fn retyped(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<(String, String, String)> {
    old.iter()
        .filter_map(|(key, old_type)| {
            let column = key.strip_prefix(TYPE)?;
            let new_type = new.get(key).filter(|t| *t != old_type)?;
            Some((column.to_string(), old_type.clone(), new_type.clone()))
        })
        .collect()
}

/// Per output column (lower case), a hash of what defines its values; None
/// when the SQL cannot be split by column. `settings` is everything else of
/// the definition that changes data (strategy, keys, types...).
pub fn column_fingerprints(
    sql: &str,
    dialect: SqlDialect,
    settings: &str,
) -> Option<BTreeMap<String, String>> {
    let mut statements = dialect.parse(sql).ok()?;
    let [Statement::Query(query)] = statements.as_mut_slice() else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    let projection = std::mem::take(&mut select.projection);
    let shaping = RowShaping::of(select, query.order_by.as_ref());
    let rest = query.to_string();
    let words = bare_words(&rest);
    // Select items that decide which rows there are belong to the rows:
    // grouped by position or by `GROUP BY ALL`, named elsewhere in the query
    // (an alias in GROUP BY or WHERE), under DISTINCT, or producing rows.
    let shaping_items: Vec<String> = projection
        .iter()
        .enumerate()
        .filter(|(i, item)| {
            let text = item.to_string();
            shaping.distinct
                || shaping.positions.contains(&(i + 1))
                || (shaping.group_by_all && !is_aggregate(&text))
                || produces_rows(&text)
                || item_name(item).is_some_and(|n| words.contains(&n.to_lowercase()))
        })
        .map(|(_, item)| item.to_string())
        .collect();
    let rows = format!("{settings}\u{0}{rest}\u{0}{}", shaping_items.join(","));
    let mut out = BTreeMap::from([(ROWS.to_string(), hash(&rows, ""))]);
    let mut stars = Vec::new();
    for item in &projection {
        let (name, text) = match item {
            SelectItem::ExprWithAlias { expr, alias } => (alias.value.clone(), expr.to_string()),
            SelectItem::UnnamedExpr(expr) => (name_of(expr)?, expr.to_string()),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                stars.push(item.to_string());
                continue;
            }
            SelectItem::ExprWithAliases { .. } => return None,
        };
        out.insert(name.to_lowercase(), hash(&rows, &text));
    }
    if !stars.is_empty() {
        out.insert(STAR.to_string(), hash(&rows, &stars.join(",")));
    }
    Some(out)
}

/// The columns whose definition differs between `old` and `new`: changed,
/// added or removed; None when what shapes the rows differs, which changes
/// them all. A column neither names is compared through [`STAR`].
pub fn changed_columns(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Option<BTreeSet<String>> {
    if old.get(ROWS) != new.get(ROWS) {
        return None;
    }
    let of = |map: &BTreeMap<String, String>, column: &str| {
        map.get(column).or_else(|| map.get(STAR)).cloned()
    };
    if of(old, STAR) != of(new, STAR) {
        // What `*` produces changed, and its columns have no names here.
        return None;
    }
    Some(
        old.keys()
            .chain(new.keys())
            .filter(|c| is_column(c) && of(old, c) != of(new, c))
            .cloned()
            .collect(),
    )
}

/// What of a query's shape makes select items decide its rows.
struct RowShaping {
    distinct: bool,
    group_by_all: bool,
    /// 1-based positions named by `GROUP BY n` or `ORDER BY n`.
    positions: BTreeSet<usize>,
}

impl RowShaping {
    fn of(select: &Select, order_by: Option<&OrderBy>) -> RowShaping {
        let mut positions = BTreeSet::new();
        let mut group_by_all = false;
        match &select.group_by {
            GroupByExpr::All(_) => group_by_all = true,
            GroupByExpr::Expressions(exprs, _) => {
                positions.extend(
                    exprs
                        .iter()
                        .filter_map(|e| e.to_string().parse::<usize>().ok()),
                );
            }
        }
        if let Some(OrderBy {
            kind: OrderByKind::Expressions(exprs),
            ..
        }) = order_by
        {
            positions.extend(
                exprs
                    .iter()
                    .filter_map(|e| e.expr.to_string().parse::<usize>().ok()),
            );
        }
        RowShaping {
            distinct: select.distinct.is_some(),
            group_by_all,
            positions,
        }
    }
}

/// Lower-case words of SQL text that are not parts of a qualified name:
/// where an alias can be named.
fn bare_words(sql: &str) -> BTreeSet<String> {
    let bytes = sql.as_bytes();
    let mut out = BTreeSet::new();
    let mut start = None;
    for i in 0..=bytes.len() {
        let word_char = i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_');
        match (start, word_char) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                let qualified = (s > 0 && bytes[s - 1] == b'.') || bytes.get(i) == Some(&b'.');
                if !qualified {
                    out.insert(sql[s..i].to_ascii_lowercase());
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

#[rustfmt::skip]
const AGGREGATES: &[&str] = &[
    "any_value(", "approx_count_distinct(", "approx_quantiles(", "arg_max(", "arg_min(",
    "array_agg(", "avg(", "bit_and(", "bit_or(", "bool_and(", "bool_or(", "count(", "count_if(",
    "countif(", "first(", "last(", "list(", "logical_and(", "logical_or(", "max(", "max_by(",
    "median(", "min(", "min_by(", "quantile", "stddev", "string_agg(", "sum(", "var_pop(",
    "var_samp(", "variance(",
];

/// An aggregate select item (not a window): under `GROUP BY ALL` it is not grouped by.
fn is_aggregate(item: &str) -> bool {
    let text = item.to_ascii_lowercase();
    !text.contains(" over ") && AGGREGATES.iter().any(|a| text.contains(a))
}

/// A select item that turns one row into several.
fn produces_rows(item: &str) -> bool {
    let text = item.to_ascii_lowercase();
    ["unnest(", "generate_series(", "flatten(", "json_each("]
        .iter()
        .any(|f| text.contains(f))
}

fn item_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        SelectItem::UnnamedExpr(expr) => name_of(expr),
        _ => None,
    }
}

fn name_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(ident.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()),
        _ => None,
    }
}

fn hash(rows: &str, expression: &str) -> String {
    let mut h = Sha256::new();
    h.update(rows.as_bytes());
    h.update([0]);
    h.update(expression.as_bytes());
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprints(sql: &str) -> BTreeMap<String, String> {
        column_fingerprints(sql, SqlDialect::DuckDb, "append").expect("splits by column")
    }

    fn changed(old: &str, new: &str) -> Vec<String> {
        changed_columns(&fingerprints(old), &fingerprints(new))
            .expect("the rows are shaped alike")
            .into_iter()
            .collect()
    }

    #[test]
    fn editing_one_expression_changes_that_column_only() {
        assert_eq!(
            changed(
                "SELECT day, count(*) AS n, sum(x) AS total FROM t GROUP BY day",
                "SELECT day, count(*) AS n, sum(x) * 2 AS total FROM t GROUP BY day",
            ),
            ["total"]
        );
    }

    #[test]
    fn an_added_column_is_the_only_change_and_a_removed_one_too() {
        let base = "SELECT day, count(*) AS n FROM t GROUP BY day";
        let more = "SELECT day, count(*) AS n, max(x) AS top FROM t GROUP BY day";
        assert_eq!(changed(base, more), ["top"]);
        assert_eq!(changed(more, base), ["top"]);
    }

    #[test]
    fn filters_joins_and_grouping_change_every_column_and_the_rows() {
        let base = fingerprints("SELECT day, count(*) AS n FROM t GROUP BY day");
        for other in [
            "SELECT day, count(*) AS n FROM t WHERE x > 0 GROUP BY day",
            "SELECT day, count(*) AS n FROM t JOIN u USING (id) GROUP BY day",
            "SELECT day, count(*) AS n FROM t GROUP BY day, x",
        ] {
            assert_eq!(
                changed_columns(&base, &fingerprints(other)),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn select_items_that_decide_the_rows_change_the_rows() {
        for (old, new) in [
            // grouped by position
            (
                "SELECT a, sum(x) AS s FROM t GROUP BY 1",
                "SELECT b AS a, sum(x) AS s FROM t GROUP BY 1",
            ),
            // grouped by every non-aggregate item
            (
                "SELECT a, sum(x) AS s FROM t GROUP BY ALL",
                "SELECT a, b, sum(x) AS s FROM t GROUP BY ALL",
            ),
            // an alias named by GROUP BY
            (
                "SELECT CAST(ts AS DATE) AS d, count(*) AS n FROM t GROUP BY d",
                "SELECT CAST(ts + 1 AS DATE) AS d, count(*) AS n FROM t GROUP BY d",
            ),
            // DISTINCT
            (
                "SELECT DISTINCT a, b FROM t",
                "SELECT DISTINCT a, c AS b FROM t",
            ),
            // one row becomes several
            (
                "SELECT id, 1 AS v FROM t",
                "SELECT id, unnest(tags) AS v FROM t",
            ),
        ] {
            assert_eq!(
                changed_columns(&fingerprints(old), &fingerprints(new)),
                None,
                "{new}"
            );
        }
        assert_eq!(
            changed(
                "SELECT a, sum(x) AS s FROM t GROUP BY ALL",
                "SELECT a, sum(x) AS s, max(y) AS m FROM t GROUP BY ALL"
            ),
            ["m"],
            "an aggregate added under GROUP BY ALL is only a new column"
        );
        assert_eq!(
            changed(
                "SELECT hour, user_id, count(*) AS events FROM t GROUP BY 1, 2",
                "SELECT hour, user_id, count(*) AS events, max(x) AS top FROM t GROUP BY 1, 2"
            ),
            ["top"]
        );
    }

    #[test]
    fn formatting_and_comments_change_nothing() {
        assert!(changed(
            "SELECT day, count(*) AS n FROM t GROUP BY day",
            "select day,\n  count(*) as n -- per day\nfrom t group by day",
        )
        .is_empty());
    }

    #[test]
    fn star_columns_share_one_entry() {
        let star = fingerprints("SELECT *, 1 AS one FROM t");
        assert_eq!(star.keys().collect::<Vec<_>>(), ["", "*", "one"]);
        assert_eq!(
            changed("SELECT *, 1 AS one FROM t", "SELECT *, 2 AS one FROM t"),
            ["one"]
        );
    }

    #[test]
    fn declared_types_are_kept_and_a_retype_is_told() {
        let mut old = fingerprints("SELECT day, count(*) AS n FROM t GROUP BY day");
        let mut new = old.clone();
        old.extend(type_entries([("n", "bigint"), ("day", "DATE")].into_iter()));
        new.extend(type_entries([("n", "DOUBLE"), ("day", "date")].into_iter()));
        assert_eq!(
            retyped(&old, &new),
            [("n".to_string(), "BIGINT".to_string(), "DOUBLE".to_string())]
        );
        assert_eq!(
            changed_columns(&old, &new),
            Some(BTreeSet::new()),
            "types are no columns"
        );
    }

    #[test]
    fn a_changed_star_changes_every_column() {
        assert_eq!(
            changed_columns(
                &fingerprints("SELECT * FROM t"),
                &fingerprints("SELECT * EXCLUDE (x) FROM t")
            ),
            None
        );
    }

    #[test]
    fn settings_change_every_column() {
        let sql = "SELECT day, count(*) AS n FROM t GROUP BY day";
        let old = column_fingerprints(sql, SqlDialect::DuckDb, "append").unwrap();
        let new = column_fingerprints(sql, SqlDialect::DuckDb, "merge").unwrap();
        assert_eq!(changed_columns(&old, &new), None);
    }

    #[test]
    fn unions_and_unnamed_expressions_have_no_per_column_answer() {
        assert!(
            column_fingerprints("SELECT 1 AS a UNION ALL SELECT 2", SqlDialect::DuckDb, "")
                .is_none()
        );
        assert!(column_fingerprints("SELECT a + 1 FROM t", SqlDialect::DuckDb, "").is_none());
    }
}
