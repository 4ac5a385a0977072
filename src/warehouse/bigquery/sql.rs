//! Every statement the BigQuery warehouse sends, in BigQuery's dialect, as pure
//! functions of the write: how replace, append and merge are spelled lives here
//! and nowhere else.
//!
//! A write first stages the query's rows in a table of their own (checks run on
//! it), then publishes them in one atomic step: a table `CLONE` for replace, a
//! multi-statement transaction for append and merge. The transaction also
//! records the run id in `_derived.commits`, so a run whose process died can be
//! told apart from one that committed before the log heard about it.

use crate::env::PhysicalName;
use crate::project::{Column, MergeRule};
use crate::time::{Interval, Schedule, Timestamp};
use crate::warehouse::Dialect;

/// The dataset holding `commits`; created with the first schemas.
pub const INTERNAL_DATASET: &str = "_derived";

/// An identifier in backticks unless plain and not reserved.
pub fn quote(ident: &str) -> String {
    Dialect::BigQuery.quote(ident)
}

/// `dataset.table`; two-part names resolve in the project that runs the job.
pub fn table(name: &PhysicalName) -> String {
    Dialect::BigQuery.table(name)
}

pub fn timestamp(t: Timestamp) -> String {
    Dialect::BigQuery.timestamp(t)
}

pub fn string(s: &str) -> String {
    Dialect::BigQuery.string(s)
}

/// A table's companion table (stage, fresh rebuild) in the same dataset.
pub fn companion(target: &PhysicalName, suffix: &str) -> PhysicalName {
    PhysicalName {
        schema: target.schema.clone(),
        table: format!("{}__derived_{suffix}", target.table),
    }
}

/// The query's rows with declared column types applied (a failed cast fails the run).
pub fn typed_select(sql: &str, columns: &[Column]) -> String {
    let sql = sql.trim().trim_end_matches(';');
    let casts: Vec<String> = columns
        .iter()
        .filter_map(|c| {
            c.data_type
                .as_ref()
                .map(|t| format!("CAST({} AS {t}) AS {}", quote(&c.name), quote(&c.name)))
        })
        .collect();
    if casts.is_empty() {
        format!("SELECT * FROM (\n{sql}\n)")
    } else {
        format!("SELECT * REPLACE ({}) FROM (\n{sql}\n)", casts.join(", "))
    }
}

/// How a table is laid out: partitioned by its time column at the schedule's
/// grain (hourly tables by hour, everything else by day), clustered by its key.
#[derive(Clone, Copy)]
pub struct Layout<'a> {
    pub time_column: Option<&'a str>,
    pub schedule: Schedule,
    pub unique_key: &'a [String],
}

impl Layout<'_> {
    fn clauses(&self) -> String {
        let mut out = String::new();
        if let Some(c) = self.time_column {
            let grain = if self.schedule == Schedule::Hourly {
                "HOUR"
            } else {
                "DAY"
            };
            out.push_str(&format!(
                " PARTITION BY TIMESTAMP_TRUNC({}, {grain})",
                quote(c)
            ));
        }
        if !self.unique_key.is_empty() {
            // BigQuery clusters by at most four columns.
            let keys: Vec<String> = self.unique_key.iter().take(4).map(|k| quote(k)).collect();
            out.push_str(&format!(" CLUSTER BY {}", keys.join(", ")));
        }
        out
    }
}

/// Stages the query's rows; a replace stage already has the target's layout,
/// because the swap clones it.
pub fn create_stage(stage: &PhysicalName, select: &str, layout: Option<Layout>) -> String {
    format!(
        "CREATE OR REPLACE TABLE {}{} AS\n{select}",
        table(stage),
        layout.map(|l| l.clauses()).unwrap_or_default()
    )
}

/// Creates the target with the stage's columns and the table's layout, once.
pub fn create_target(target: &PhysicalName, stage: &PhysicalName, layout: Layout) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}{} AS SELECT * FROM {} WHERE FALSE",
        table(target),
        layout.clauses(),
        table(stage)
    )
}

/// Adds nullable columns to an existing table.
pub fn add_columns(target: &PhysicalName, columns: &[&(String, String)]) -> String {
    let added: Vec<String> = columns
        .iter()
        .map(|(name, data_type)| format!("ADD COLUMN {} {data_type}", quote(name)))
        .collect();
    format!("ALTER TABLE {} {}", table(target), added.join(", "))
}

/// `column` (an expression) falls in the interval.
pub fn inside(column: &str, interval: Interval) -> String {
    format!(
        "{column} >= {} AND {column} < {}",
        timestamp(interval.start()),
        timestamp(interval.end()),
    )
}

/// One staged row outside the interval (or without a time), if any.
pub fn row_outside(stage: &PhysicalName, column: &str, interval: Interval) -> String {
    format!(
        "SELECT CAST({c} AS STRING) AS {c} FROM {} WHERE NOT ({}) OR {c} IS NULL LIMIT 1",
        table(stage),
        inside(&quote(column), interval),
        c = quote(column)
    )
}

pub fn count_rows(query: &str) -> String {
    format!("SELECT COUNT(*) AS failing FROM (\n{query}\n)")
}

pub fn sample_rows(query: &str, limit: usize) -> String {
    format!("SELECT * FROM (\n{query}\n) LIMIT {limit}")
}

fn commit(run_id: i64, target: &PhysicalName, rows: u64) -> String {
    format!(
        "INSERT INTO {INTERNAL_DATASET}.commits (run_id, target, rows_written, committed_at) \
         VALUES ({run_id}, {}, {rows}, CURRENT_TIMESTAMP())",
        string(&target.to_string())
    )
}

fn transaction(statements: &[String]) -> String {
    format!(
        "BEGIN TRANSACTION;\n{};\nCOMMIT TRANSACTION",
        statements.join(";\n")
    )
}

/// Swaps a finished stage in as the target (one atomic clone), records the
/// commit and drops the stage.
pub fn swap(target: &PhysicalName, stage: &PhysicalName, commit_as: Option<(i64, u64)>) -> String {
    let mut statements = vec![format!(
        "CREATE OR REPLACE TABLE {} CLONE {}",
        table(target),
        table(stage)
    )];
    statements.extend(commit_as.map(|(run_id, rows)| commit(run_id, target, rows)));
    statements.push(format!("DROP TABLE {}", table(stage)));
    statements.join(";\n")
}

/// Append: in one transaction the interval's rows are replaced by the stage's.
pub fn append(
    target: &PhysicalName,
    stage: &PhysicalName,
    columns: &[String],
    time_column: &str,
    interval: Interval,
    commit_as: Option<(i64, u64)>,
) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let values: Vec<String> = names.iter().map(|c| format!("s.{c}")).collect();
    let mut statements = vec![format!(
        "MERGE INTO {} AS t USING {} AS s ON FALSE\n\
         WHEN NOT MATCHED BY SOURCE AND {} THEN DELETE\n\
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
        table(target),
        table(stage),
        inside(&format!("t.{}", quote(time_column)), interval),
        names.join(", "),
        values.join(", ")
    )];
    statements.extend(commit_as.map(|(run_id, rows)| commit(run_id, target, rows)));
    transaction(&statements)
}

/// How one statement's rows for a key combine before merging.
fn combine(column: &str, rule: MergeRule, time_column: Option<&str>) -> String {
    let c = quote(column);
    let latest = |direction: &str, t: &str| {
        format!(
            "ARRAY_AGG(STRUCT({c} AS v) ORDER BY {} {direction} NULLS LAST LIMIT 1)[OFFSET(0)].v",
            quote(t)
        )
    };
    match (rule, time_column) {
        (MergeRule::Min, _) => format!("MIN({c})"),
        (MergeRule::Max, _) => format!("MAX({c})"),
        (MergeRule::Sum, _) => format!("SUM({c})"),
        (MergeRule::Overwrite, Some(t)) => latest("DESC", t),
        (MergeRule::Keep, Some(t)) => latest("ASC", t),
        (MergeRule::Overwrite | MergeRule::Keep, None) => format!("ANY_VALUE({c})"),
    }
}

/// What a merge needs to know about the rows it upserts.
pub struct MergeSpec<'a> {
    pub columns: &'a [String],
    pub unique_key: &'a [String],
    pub rules: &'a std::collections::BTreeMap<String, MergeRule>,
    pub time_column: Option<&'a str>,
}

/// Merge: the stage's rows combined per key, upserted with the per-column rules,
/// in one transaction with the commit record.
pub fn merge(
    target: &PhysicalName,
    stage: &PhysicalName,
    spec: &MergeSpec,
    commit_as: Option<(i64, u64)>,
) -> String {
    let is_key = |c: &str| spec.unique_key.iter().any(|k| k == c);
    let rule = |c: &str| spec.rules.get(c).copied().unwrap_or(MergeRule::Overwrite);
    let keys: Vec<String> = spec.unique_key.iter().map(|k| quote(k)).collect();
    let values: Vec<&String> = spec.columns.iter().filter(|c| !is_key(c)).collect();
    let mut select = keys.clone();
    select.extend(
        values
            .iter()
            .map(|c| format!("{} AS {}", combine(c, rule(c), spec.time_column), quote(c))),
    );
    let on: Vec<String> = keys
        .iter()
        .map(|k| format!("t.{k} IS NOT DISTINCT FROM s.{k}"))
        .collect();
    let sets: Vec<String> = values
        .iter()
        .filter_map(|c| {
            Dialect::BigQuery
                .merged(c, rule(c))
                .map(|v| format!("{} = {v}", quote(c)))
        })
        .collect();
    let names: Vec<String> = spec.columns.iter().map(|c| quote(c)).collect();
    let inserted: Vec<String> = names.iter().map(|c| format!("s.{c}")).collect();
    let when_matched = if sets.is_empty() {
        String::new()
    } else {
        format!("\nWHEN MATCHED THEN UPDATE SET {}", sets.join(", "))
    };
    let mut statements = vec![format!(
        "MERGE INTO {} AS t USING (\nSELECT {} FROM {} GROUP BY {}\n) AS s ON {}{when_matched}\n\
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
        table(target),
        select.join(", "),
        table(stage),
        keys.join(", "),
        on.join(" AND "),
        names.join(", "),
        inserted.join(", ")
    )];
    statements.extend(commit_as.map(|(run_id, rows)| commit(run_id, target, rows)));
    transaction(&statements)
}

/// The datasets every write needs, and the commit record.
pub fn setup(datasets: &[String], location: &str) -> String {
    let mut statements: Vec<String> = datasets
        .iter()
        .chain(std::iter::once(&INTERNAL_DATASET.to_string()))
        .map(|d| {
            format!(
                "CREATE SCHEMA IF NOT EXISTS {} OPTIONS (location = {})",
                quote(d),
                string(location)
            )
        })
        .collect();
    statements.push(format!(
        "CREATE TABLE IF NOT EXISTS {INTERNAL_DATASET}.commits \
         (run_id INT64 NOT NULL, target STRING NOT NULL, rows_written INT64 NOT NULL, committed_at TIMESTAMP NOT NULL)"
    ));
    statements.join(";\n")
}

pub fn committed(run_ids: &[i64]) -> String {
    let list: Vec<String> = run_ids.iter().map(i64::to_string).collect();
    format!(
        "SELECT run_id, rows_written FROM {INTERNAL_DATASET}.commits WHERE run_id IN ({})",
        list.join(", ")
    )
}

pub fn max_time(source: &PhysicalName, column: &str) -> String {
    format!(
        "SELECT UNIX_MICROS(MAX({})) AS max_time FROM {}",
        quote(column),
        table(source)
    )
}

/// The datasets of one environment, from the location's catalog.
pub fn environment_datasets(location: &str, env: &str) -> String {
    format!(
        "SELECT schema_name FROM `region-{}`.INFORMATION_SCHEMA.SCHEMATA WHERE STARTS_WITH(schema_name, {})",
        location.to_ascii_lowercase(),
        string(&format!("{env}__"))
    )
}

pub fn drop_datasets(datasets: &[String]) -> String {
    datasets
        .iter()
        .map(|d| format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(d)))
        .collect::<Vec<_>>()
        .join(";\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;
    use sqlparser::dialect::BigQueryDialect;
    use sqlparser::parser::Parser;
    use std::collections::BTreeMap;

    fn name(schema: &str, table: &str) -> PhysicalName {
        PhysicalName {
            schema: schema.into(),
            table: table.into(),
        }
    }

    fn day() -> Interval {
        Interval::new(
            parse_timestamp("2024-01-02T00:00:00Z").unwrap(),
            parse_timestamp("2024-01-03T00:00:00Z").unwrap(),
        )
        .unwrap()
    }

    /// Every generated script is BigQuery that sqlparser reads statement by statement.
    fn parses(script: &str) -> &str {
        Parser::parse_sql(&BigQueryDialect {}, script).unwrap_or_else(|e| panic!("{e}\n{script}"));
        script
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replace_stages_with_the_layout_then_swaps_by_clone() {
        let target = name("core", "daily_active_users");
        let stage = companion(&target, "stage_7");
        let columns = vec![Column {
            name: "users".into(),
            data_type: Some("INT64".into()),
            description: None,
            policy: None,
        }];
        let layout = Layout {
            time_column: Some("day"),
            schedule: Schedule::Daily,
            unique_key: &[],
        };
        let select = typed_select(
            "SELECT day, COUNT(DISTINCT user_id) AS users FROM raw.messages GROUP BY day;",
            &columns,
        );
        insta::assert_snapshot!(parses(&create_stage(&stage, &select, Some(layout))), @r"
        CREATE OR REPLACE TABLE core.daily_active_users__derived_stage_7 PARTITION BY TIMESTAMP_TRUNC(day, DAY) AS
        SELECT * REPLACE (CAST(users AS INT64) AS users) FROM (
        SELECT day, COUNT(DISTINCT user_id) AS users FROM raw.messages GROUP BY day
        )
        ");
        insta::assert_snapshot!(parses(&swap(&target, &stage, Some((7, 31)))), @r"
        CREATE OR REPLACE TABLE core.daily_active_users CLONE core.daily_active_users__derived_stage_7;
        INSERT INTO _derived.commits (run_id, target, rows_written, committed_at) VALUES (7, 'core.daily_active_users', 31, CURRENT_TIMESTAMP());
        DROP TABLE core.daily_active_users__derived_stage_7
        ");
    }

    #[test]
    fn append_replaces_the_interval_in_one_transaction() {
        let target = name("hourly", "guild_messages");
        let stage = companion(&target, "stage_9");
        let layout = Layout {
            time_column: Some("hour"),
            schedule: Schedule::Hourly,
            unique_key: &strings(&["guild_id"]),
        };
        insta::assert_snapshot!(parses(&create_target(&target, &stage, layout)), @"CREATE TABLE IF NOT EXISTS hourly.guild_messages PARTITION BY TIMESTAMP_TRUNC(hour, HOUR) CLUSTER BY guild_id AS SELECT * FROM hourly.guild_messages__derived_stage_9 WHERE FALSE");
        insta::assert_snapshot!(parses(&row_outside(&stage, "hour", day())), @"SELECT CAST(hour AS STRING) AS hour FROM hourly.guild_messages__derived_stage_9 WHERE NOT (hour >= TIMESTAMP '2024-01-02 00:00:00.000000' AND hour < TIMESTAMP '2024-01-03 00:00:00.000000') OR hour IS NULL LIMIT 1");
        let columns = strings(&["hour", "guild_id", "messages"]);
        insta::assert_snapshot!(parses(&append(&target, &stage, &columns, "hour", day(), Some((9, 120)))), @r"
        BEGIN TRANSACTION;
        MERGE INTO hourly.guild_messages AS t USING hourly.guild_messages__derived_stage_9 AS s ON FALSE
        WHEN NOT MATCHED BY SOURCE AND t.hour >= TIMESTAMP '2024-01-02 00:00:00.000000' AND t.hour < TIMESTAMP '2024-01-03 00:00:00.000000' THEN DELETE
        WHEN NOT MATCHED THEN INSERT (hour, guild_id, messages) VALUES (s.hour, s.guild_id, s.messages);
        INSERT INTO _derived.commits (run_id, target, rows_written, committed_at) VALUES (9, 'hourly.guild_messages', 120, CURRENT_TIMESTAMP());
        COMMIT TRANSACTION
        ");
    }

    #[test]
    fn merge_combines_per_key_then_upserts_with_the_rules() {
        let target = name("core", "user_voice_firsts");
        let stage = companion(&target, "stage_3");
        let rules = BTreeMap::from([
            ("first_voice_at".to_string(), MergeRule::Min),
            ("last_voice_at".to_string(), MergeRule::Max),
            ("sessions".to_string(), MergeRule::Sum),
            ("first_guild_id".to_string(), MergeRule::Keep),
        ]);
        let spec = MergeSpec {
            columns: &strings(&[
                "user_id",
                "first_voice_at",
                "last_voice_at",
                "sessions",
                "first_guild_id",
                "platform",
            ]),
            unique_key: &strings(&["user_id"]),
            rules: &rules,
            time_column: Some("last_voice_at"),
        };
        insta::assert_snapshot!(parses(&merge(&target, &stage, &spec, Some((3, 40)))), @r"
        BEGIN TRANSACTION;
        MERGE INTO core.user_voice_firsts AS t USING (
        SELECT user_id, MIN(first_voice_at) AS first_voice_at, MAX(last_voice_at) AS last_voice_at, SUM(sessions) AS sessions, ARRAY_AGG(STRUCT(first_guild_id AS v) ORDER BY last_voice_at ASC NULLS LAST LIMIT 1)[OFFSET(0)].v AS first_guild_id, ARRAY_AGG(STRUCT(platform AS v) ORDER BY last_voice_at DESC NULLS LAST LIMIT 1)[OFFSET(0)].v AS platform FROM core.user_voice_firsts__derived_stage_3 GROUP BY user_id
        ) AS s ON t.user_id IS NOT DISTINCT FROM s.user_id
        WHEN MATCHED THEN UPDATE SET first_voice_at = CASE WHEN s.first_voice_at IS NULL THEN t.first_voice_at WHEN t.first_voice_at IS NULL THEN s.first_voice_at ELSE LEAST(t.first_voice_at, s.first_voice_at) END, last_voice_at = CASE WHEN s.last_voice_at IS NULL THEN t.last_voice_at WHEN t.last_voice_at IS NULL THEN s.last_voice_at ELSE GREATEST(t.last_voice_at, s.last_voice_at) END, sessions = CASE WHEN s.sessions IS NULL THEN t.sessions WHEN t.sessions IS NULL THEN s.sessions ELSE t.sessions + s.sessions END, platform = s.platform
        WHEN NOT MATCHED THEN INSERT (user_id, first_voice_at, last_voice_at, sessions, first_guild_id, platform) VALUES (s.user_id, s.first_voice_at, s.last_voice_at, s.sessions, s.first_guild_id, s.platform);
        INSERT INTO _derived.commits (run_id, target, rows_written, committed_at) VALUES (3, 'core.user_voice_firsts', 40, CURRENT_TIMESTAMP());
        COMMIT TRANSACTION
        ");
    }

    #[test]
    fn new_columns_are_added_nullable_in_one_statement() {
        let target = name("core", "star_reader");
        let columns = [
            ("kinds".to_string(), "INT64".to_string()),
            ("first seen".to_string(), "TIMESTAMP".to_string()),
        ];
        let added: Vec<&(String, String)> = columns.iter().collect();
        assert_eq!(
            parses(&add_columns(&target, &added)),
            "ALTER TABLE core.star_reader ADD COLUMN kinds INT64, ADD COLUMN `first seen` TIMESTAMP"
        );
    }

    #[test]
    fn rebuild_swaps_the_fresh_table_and_setup_creates_datasets() {
        let target = name("ci_42__core", "dim_users");
        let fresh = companion(&target, "rebuild");
        insta::assert_snapshot!(parses(&swap(&target, &fresh, Some((11, 5)))), @r"
        CREATE OR REPLACE TABLE ci_42__core.dim_users CLONE ci_42__core.dim_users__derived_rebuild;
        INSERT INTO _derived.commits (run_id, target, rows_written, committed_at) VALUES (11, 'ci_42__core.dim_users', 5, CURRENT_TIMESTAMP());
        DROP TABLE ci_42__core.dim_users__derived_rebuild
        ");
        insta::assert_snapshot!(parses(&setup(&strings(&["core"]), "US")), @r"
        CREATE SCHEMA IF NOT EXISTS core OPTIONS (location = 'US');
        CREATE SCHEMA IF NOT EXISTS _derived OPTIONS (location = 'US');
        CREATE TABLE IF NOT EXISTS _derived.commits (run_id INT64 NOT NULL, target STRING NOT NULL, rows_written INT64 NOT NULL, committed_at TIMESTAMP NOT NULL)
        ");
        parses(&committed(&[1, 2]));
        parses(&max_time(&name("raw", "messages"), "sent_at"));
        parses(&environment_datasets("US", "ci_42"));
        parses(&drop_datasets(&strings(&["ci_42__core"])));
        parses(&sample_rows(&count_rows("SELECT 1"), 5));
    }

    #[test]
    fn identifiers_that_are_not_plain_get_backticks() {
        assert_eq!(quote("userId"), "userId");
        assert_eq!(quote("my col"), "`my col`");
        assert_eq!(quote("2x"), "`2x`");
        assert_eq!(string("it's"), "'it\\'s'");
    }
}
