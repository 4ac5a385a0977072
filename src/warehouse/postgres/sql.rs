//! Every statement the PostgreSQL warehouse sends, as pure functions of the
//! write. PostgreSQL's DDL is transactional, so a whole write — staging the
//! rows, checking them, publishing them and recording the commit — is one
//! transaction: a failure anywhere leaves nothing behind.

use crate::env::PhysicalName;
use crate::project::{Column, MergeRule};
use crate::time::{Interval, Timestamp};
use crate::warehouse::{quote, table_sql, Dialect};
use std::collections::BTreeMap;

pub const INTERNAL_SCHEMA: &str = "_derived";

pub fn timestamp(t: Timestamp) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

pub fn string(s: &str) -> String {
    Dialect::Ansi.string(s)
}

/// A table's companion table (stage, fresh rebuild) in the same schema.
pub fn companion(target: &PhysicalName, suffix: &str) -> PhysicalName {
    PhysicalName {
        schema: target.schema.clone(),
        table: format!("{}__derived_{suffix}", target.table),
    }
}

/// Stages the query's rows in a table of this transaction, with declared
/// column types applied (a failed cast fails the run).
pub fn create_stage(stage: &PhysicalName, sql: &str, columns: &[Column]) -> String {
    let sql = sql.trim().trim_end_matches(';');
    let mut statements = vec![
        format!("DROP TABLE IF EXISTS {}", table_sql(stage)),
        format!("CREATE TABLE {} AS\n{sql}", table_sql(stage)),
    ];
    statements.extend(columns.iter().filter_map(|c| {
        c.data_type.as_ref().map(|t| {
            format!(
                "ALTER TABLE {} ALTER COLUMN {c} TYPE {t} USING CAST({c} AS {t})",
                table_sql(stage),
                c = quote(&c.name)
            )
        })
    }));
    statements.join(";\n")
}

/// `column` (an expression) falls in the interval.
pub fn inside(column: &str, interval: Interval) -> String {
    format!(
        "{column} >= {} AND {column} < {}",
        timestamp(interval.start()),
        timestamp(interval.end())
    )
}

/// One staged row outside the interval (or without a time), if any.
pub fn row_outside(stage: &PhysicalName, column: &str, interval: Interval) -> String {
    format!(
        "SELECT CAST({c} AS TEXT) FROM {} WHERE NOT ({}) OR {c} IS NULL LIMIT 1",
        table_sql(stage),
        inside(&quote(column), interval),
        c = quote(column)
    )
}

pub fn count_rows(query: &str) -> String {
    format!("SELECT count(*) FROM (\n{query}\n) AS offending")
}

pub fn sample_rows(query: &str, limit: usize) -> String {
    format!("SELECT * FROM (\n{query}\n) AS offending LIMIT {limit}")
}

pub fn commit(run_id: i64, target: &PhysicalName, rows: u64) -> String {
    format!(
        "INSERT INTO {INTERNAL_SCHEMA}.commits (run_id, target, rows_written, committed_at) \
         VALUES ({run_id}, {}, {rows}, now())",
        string(&target.to_string())
    )
}

/// Replace: the stage becomes the table.
pub fn swap(target: &PhysicalName, stage: &PhysicalName) -> String {
    format!(
        "DROP TABLE IF EXISTS {};\nALTER TABLE {} RENAME TO {}",
        table_sql(target),
        table_sql(stage),
        quote(&target.table)
    )
}

/// Append and merge targets are created once, with the stage's columns.
pub fn create_target(target: &PhysicalName, stage: &PhysicalName) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} AS TABLE {} WITH NO DATA",
        table_sql(target),
        table_sql(stage)
    )
}

/// Append: the interval's rows are replaced by the stage's.
pub fn append(
    target: &PhysicalName,
    stage: &PhysicalName,
    columns: &[String],
    time_column: &str,
    interval: Interval,
) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    format!(
        "DELETE FROM {t} WHERE {};\nINSERT INTO {t} ({names}) SELECT {names} FROM {}",
        inside(&quote(time_column), interval),
        table_sql(stage),
        t = table_sql(target),
        names = names.join(", ")
    )
}

/// How one statement's rows for a key combine before merging.
fn combine(column: &str, rule: MergeRule, time_column: Option<&str>) -> String {
    let c = quote(column);
    match (rule, time_column) {
        (MergeRule::Min, _) => format!("min({c})"),
        (MergeRule::Max, _) => format!("max({c})"),
        (MergeRule::Sum, _) => format!("sum({c})"),
        (MergeRule::Overwrite, Some(t)) => {
            format!("(array_agg({c} ORDER BY {} DESC NULLS LAST))[1]", quote(t))
        }
        (MergeRule::Keep, Some(t)) => {
            format!("(array_agg({c} ORDER BY {} ASC NULLS LAST))[1]", quote(t))
        }
        (MergeRule::Overwrite | MergeRule::Keep, None) => format!("(array_agg({c}))[1]"),
    }
}

/// What a merge needs to know about the rows it upserts.
pub struct MergeSpec<'a> {
    /// Every staged column with its type (sums are cast back to it).
    pub columns: &'a [(String, String)],
    pub unique_key: &'a [String],
    pub rules: &'a BTreeMap<String, MergeRule>,
    pub time_column: Option<&'a str>,
}

/// Merge: the stage's rows combined per key, upserted with the per-column rules.
pub fn merge(target: &PhysicalName, stage: &PhysicalName, spec: &MergeSpec) -> String {
    let is_key = |c: &str| spec.unique_key.iter().any(|k| k == c);
    let rule = |c: &str| spec.rules.get(c).copied().unwrap_or(MergeRule::Overwrite);
    let keys: Vec<String> = spec.unique_key.iter().map(|k| quote(k)).collect();
    let values: Vec<&(String, String)> = spec.columns.iter().filter(|(c, _)| !is_key(c)).collect();
    let mut select = keys.clone();
    select.extend(values.iter().map(|(c, ty)| {
        format!(
            "CAST({} AS {ty}) AS {}",
            combine(c, rule(c), spec.time_column),
            quote(c)
        )
    }));
    let on: Vec<String> = keys
        .iter()
        .map(|k| format!("t.{k} IS NOT DISTINCT FROM s.{k}"))
        .collect();
    let sets: Vec<String> = values
        .iter()
        .filter_map(|(c, _)| {
            Dialect::Ansi
                .merged(c, rule(c))
                .map(|v| format!("{} = {v}", quote(c)))
        })
        .collect();
    let names: Vec<String> = spec.columns.iter().map(|(c, _)| quote(c)).collect();
    let inserted: Vec<String> = names.iter().map(|c| format!("s.{c}")).collect();
    let when_matched = if sets.is_empty() {
        String::new()
    } else {
        format!("\nWHEN MATCHED THEN UPDATE SET {}", sets.join(", "))
    };
    format!(
        "MERGE INTO {} AS t USING (\nSELECT {} FROM {} GROUP BY {}\n) AS s ON {}{when_matched}\n\
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
        table_sql(target),
        select.join(", "),
        table_sql(stage),
        keys.join(", "),
        on.join(" AND "),
        names.join(", "),
        inserted.join(", ")
    )
}

pub const SETUP: &str = "CREATE SCHEMA IF NOT EXISTS _derived;
CREATE TABLE IF NOT EXISTS _derived.commits (run_id BIGINT NOT NULL, target TEXT NOT NULL, rows_written BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL)";

pub fn max_time(source: &PhysicalName, column: &str) -> String {
    format!(
        "SELECT CAST(extract(epoch FROM max({})) * 1000000 AS BIGINT) FROM {}",
        quote(column),
        table_sql(source)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn name(schema: &str, table: &str) -> PhysicalName {
        PhysicalName {
            schema: schema.into(),
            table: table.into(),
        }
    }

    fn parses(script: &str) -> &str {
        Parser::parse_sql(&PostgreSqlDialect {}, script)
            .unwrap_or_else(|e| panic!("{e}\n{script}"));
        script
    }

    fn day() -> Interval {
        Interval::new(
            parse_timestamp("2024-01-02T00:00:00Z").unwrap(),
            parse_timestamp("2024-01-03T00:00:00Z").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn replace_stages_casts_and_renames_in_one_transaction() {
        let target = name("core", "dim_users");
        let stage = companion(&target, "stage_4");
        let columns = vec![Column {
            name: "user_id".into(),
            data_type: Some("BIGINT".into()),
            description: None,
            policy: None,
        }];
        insta::assert_snapshot!(parses(&create_stage(&stage, "SELECT user_id FROM raw.users;", &columns)), @r"
        DROP TABLE IF EXISTS core.dim_users__derived_stage_4;
        CREATE TABLE core.dim_users__derived_stage_4 AS
        SELECT user_id FROM raw.users;
        ALTER TABLE core.dim_users__derived_stage_4 ALTER COLUMN user_id TYPE BIGINT USING CAST(user_id AS BIGINT)
        ");
        insta::assert_snapshot!(parses(&swap(&target, &stage)), @r"
        DROP TABLE IF EXISTS core.dim_users;
        ALTER TABLE core.dim_users__derived_stage_4 RENAME TO dim_users
        ");
        insta::assert_snapshot!(parses(&commit(4, &target, 12)), @"INSERT INTO _derived.commits (run_id, target, rows_written, committed_at) VALUES (4, 'core.dim_users', 12, now())");
    }

    #[test]
    fn append_deletes_the_interval_and_inserts_the_stage() {
        let target = name("hourly", "guild_messages");
        let stage = companion(&target, "stage_9");
        let columns = vec!["hour".to_string(), "messages".to_string()];
        insta::assert_snapshot!(parses(&append(&target, &stage, &columns, "hour", day())), @r"
        DELETE FROM hourly.guild_messages WHERE hour >= TIMESTAMP '2024-01-02 00:00:00.000000' AND hour < TIMESTAMP '2024-01-03 00:00:00.000000';
        INSERT INTO hourly.guild_messages (hour, messages) SELECT hour, messages FROM hourly.guild_messages__derived_stage_9
        ");
        parses(&row_outside(&stage, "hour", day()));
        parses(&create_target(&target, &stage));
        parses(&max_time(&name("raw", "messages"), "sent_at"));
        parses(SETUP);
    }

    #[test]
    fn merge_combines_per_key_then_upserts_with_the_rules() {
        let target = name("core", "user_voice_firsts");
        let stage = companion(&target, "stage_3");
        let rules = BTreeMap::from([
            ("first_voice_at".to_string(), MergeRule::Min),
            ("sessions".to_string(), MergeRule::Sum),
            ("first_guild_id".to_string(), MergeRule::Keep),
        ]);
        let columns: Vec<(String, String)> = [
            ("user_id", "bigint"),
            ("first_voice_at", "timestamp without time zone"),
            ("sessions", "bigint"),
            ("first_guild_id", "bigint"),
            ("last_voice_at", "timestamp without time zone"),
        ]
        .iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
        let spec = MergeSpec {
            columns: &columns,
            unique_key: &["user_id".to_string()],
            rules: &rules,
            time_column: Some("last_voice_at"),
        };
        insta::assert_snapshot!(parses(&merge(&target, &stage, &spec)), @r"
        MERGE INTO core.user_voice_firsts AS t USING (
        SELECT user_id, CAST(min(first_voice_at) AS timestamp without time zone) AS first_voice_at, CAST(sum(sessions) AS bigint) AS sessions, CAST((array_agg(first_guild_id ORDER BY last_voice_at ASC NULLS LAST))[1] AS bigint) AS first_guild_id, CAST((array_agg(last_voice_at ORDER BY last_voice_at DESC NULLS LAST))[1] AS timestamp without time zone) AS last_voice_at FROM core.user_voice_firsts__derived_stage_3 GROUP BY user_id
        ) AS s ON t.user_id IS NOT DISTINCT FROM s.user_id
        WHEN MATCHED THEN UPDATE SET first_voice_at = CASE WHEN s.first_voice_at IS NULL THEN t.first_voice_at WHEN t.first_voice_at IS NULL THEN s.first_voice_at ELSE LEAST(t.first_voice_at, s.first_voice_at) END, sessions = CASE WHEN s.sessions IS NULL THEN t.sessions WHEN t.sessions IS NULL THEN s.sessions ELSE t.sessions + s.sessions END, last_voice_at = s.last_voice_at
        WHEN NOT MATCHED THEN INSERT (user_id, first_voice_at, sessions, first_guild_id, last_voice_at) VALUES (s.user_id, s.first_voice_at, s.sessions, s.first_guild_id, s.last_voice_at)
        ");
    }
}
