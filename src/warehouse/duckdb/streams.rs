//! Landing stream events. The landing table's primary key is the event id, so
//! `INSERT OR IGNORE` lands each event once; the batch's stream position is
//! written in the same transaction, so a crash redelivers or resumes, never both.

use super::{err, in_transaction, literal, string_literal};
use crate::ingest::{Batch, Landed, StreamState};
use crate::project::{Source, Stream};
use crate::time::{from_micros, to_micros, Interval, Timestamp};
use crate::warehouse::{quote, PhysicalName, Result, WarehouseError};
use ::duckdb::{params, Connection};

const SETUP: &str = "CREATE TABLE IF NOT EXISTS _derived.stream_batches (source VARCHAR NOT NULL, first_sequence BIGINT, last_sequence BIGINT, replayed VARCHAR, events BIGINT NOT NULL, landed BIGINT NOT NULL, duplicates BIGINT NOT NULL, rejected BIGINT NOT NULL, late BIGINT NOT NULL, late_from TIMESTAMP, late_to TIMESTAMP, committed_at TIMESTAMP NOT NULL); \
    CREATE TABLE IF NOT EXISTS _derived.stream_partitions (source VARCHAR NOT NULL, partition VARCHAR NOT NULL, max_event_time TIMESTAMP NOT NULL, last_sequence BIGINT NOT NULL); \
    CREATE TABLE IF NOT EXISTS _derived.stream_rejects (source VARCHAR NOT NULL, sequence BIGINT NOT NULL, partition VARCHAR NOT NULL, payload VARCHAR NOT NULL, error VARCHAR NOT NULL, rejected_at TIMESTAMP NOT NULL)";

const LANDING: &str = "CREATE TEMP TABLE IF NOT EXISTS _derived_landing (sequence BIGINT, partition VARCHAR, event_id VARCHAR, event_time BIGINT, payload VARCHAR)";

fn stream_of(source: &Source) -> Result<&Stream> {
    source
        .stream
        .as_deref()
        .ok_or_else(|| WarehouseError::new(format!("{} is not a stream source", source.name)))
}

fn declared_type(source: &Source, column: &str) -> String {
    source
        .columns
        .iter()
        .find(|c| c.name == column)
        .and_then(|c| c.data_type.clone())
        .unwrap_or_else(|| "VARCHAR".into())
}

pub fn open(c: &Connection, source: &Source) -> Result<StreamState> {
    let stream = stream_of(source)?;
    let target = PhysicalName::of(&source.name, "prod");
    let columns: Vec<String> = source
        .columns
        .iter()
        .map(|col| {
            format!(
                "{} {}",
                quote(&col.name),
                col.data_type.as_deref().unwrap_or("VARCHAR")
            )
        })
        .collect();
    c.execute_batch(&format!(
        "{SETUP}; CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))",
        quote(&target.schema),
        target.sql(),
        columns.join(", "),
        quote(&stream.event_id)
    ))
    .map_err(err)?;
    let keyed: bool = c
        .query_row(
            "SELECT count(*) > 0 FROM duckdb_constraints() WHERE schema_name = ? AND table_name = ? \
             AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND constraint_column_names = [?]",
            params![target.schema, target.table, stream.event_id],
            |r| r.get(0),
        )
        .map_err(err)?;
    if !keyed {
        return Err(WarehouseError::new(format!(
            "{target} exists but is not keyed by `{}`, so events could land twice; \
             rename or drop it and run `derived ingest {}` again to land into a fresh table",
            stream.event_id, source.name
        )));
    }
    let name = source.name.as_str();
    let position: i64 = c
        .query_row(
            "SELECT coalesce(max(last_sequence), 0) FROM _derived.stream_batches WHERE source = ?",
            [name],
            |r| r.get(0),
        )
        .map_err(err)?;
    let mut state = StreamState {
        position: position as u64,
        ..StreamState::default()
    };
    let mut stmt = c
        .prepare("SELECT partition, epoch_us(max(max_event_time)) FROM _derived.stream_partitions WHERE source = ? GROUP BY partition")
        .map_err(err)?;
    let rows = stmt
        .query_map([name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(err)?;
    for row in rows {
        let (partition, micros) = row.map_err(err)?;
        state.partitions.insert(partition, from_micros(micros));
    }
    let mut stmt = c
        .prepare("SELECT epoch_us(late_from), epoch_us(late_to) FROM _derived.stream_batches WHERE source = ? AND late > 0 ORDER BY committed_at DESC LIMIT 1000")
        .map_err(err)?;
    let rows = stmt
        .query_map([name], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(err)?;
    for row in rows {
        let (from, to) = row.map_err(err)?;
        state
            .late_ranges
            .extend(Interval::new(from_micros(from), from_micros(to)));
    }
    Ok(state)
}

/// The declared columns, each read from the staged payloads (`alias`) as its
/// type: the event id and time from the decoded fields, the rest from the JSON.
fn landed_columns(source: &Source, stream: &Stream) -> (String, String) {
    let names: Vec<String> = source.columns.iter().map(|c| quote(&c.name)).collect();
    let values: Vec<String> = source
        .columns
        .iter()
        .map(|c| {
            let ty = declared_type(source, &c.name);
            if c.name == stream.event_time {
                format!("CAST(make_timestamp(event_time) AS {ty})")
            } else if c.name == stream.event_id {
                format!("CAST(event_id AS {ty})")
            } else {
                let path = format!("$.\"{}\"", c.name.replace('"', "\\\""));
                format!(
                    "CAST(json_extract_string(payload, {}) AS {ty})",
                    string_literal(&path)
                )
            }
        })
        .collect();
    (names.join(", "), values.join(", "))
}

/// The count and range of `rows` (a query with `event_id` as text and
/// `event_time` as a timestamp) that are older than `before` and new to `target`.
fn late(
    c: &Connection,
    source: &Source,
    rows: &str,
    before: Timestamp,
) -> Result<(u64, Option<Interval>)> {
    let stream = stream_of(source)?;
    let target = PhysicalName::of(&source.name, "prod");
    let sql = format!(
        "SELECT count(*), epoch_us(min(l.event_time)), epoch_us(max(l.event_time)) FROM ({rows}) AS l \
         WHERE l.event_time < {} AND NOT EXISTS (SELECT 1 FROM {} AS t WHERE t.{} = CAST(l.event_id AS {}))",
        literal(before),
        target.sql(),
        quote(&stream.event_id),
        declared_type(source, &stream.event_id)
    );
    let (count, min, max): (i64, Option<i64>, Option<i64>) = c
        .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(err)?;
    let range = match (min, max) {
        (Some(min), Some(max)) => Interval::new(from_micros(min), from_micros(max + 1)),
        _ => None,
    };
    Ok((count as u64, range))
}

pub fn land(
    c: &Connection,
    source: &Source,
    batch: &Batch,
    late_before: Option<Timestamp>,
) -> Result<Landed> {
    let stream = stream_of(source)?;
    let target = PhysicalName::of(&source.name, "prod");
    let name = source.name.as_str();
    c.execute_batch(LANDING).map_err(err)?;
    in_transaction(c, |c| {
        c.execute_batch("DELETE FROM _derived_landing")
            .map_err(err)?;
        {
            let mut appender = c
                .appender_to_catalog_and_db("_derived_landing", "temp", "main")
                .map_err(err)?;
            for e in &batch.events {
                appender
                    .append_row(params![
                        e.sequence as i64,
                        e.partition,
                        e.event_id,
                        to_micros(e.event_time),
                        e.payload
                    ])
                    .map_err(err)?;
            }
            appender.flush().map_err(err)?;
        }
        let mut landed = Landed::default();
        if let Some(before) = late_before {
            if batch.events.iter().any(|e| e.event_time < before) {
                let rows = "SELECT event_id, make_timestamp(event_time) AS event_time FROM _derived_landing";
                (landed.late, landed.late_range) = late(c, source, rows, before)?;
            }
        }
        let (names, values) = landed_columns(source, stream);
        let inserted = c
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO {} ({names}) SELECT {values} FROM _derived_landing",
                    target.sql()
                ),
                [],
            )
            .map_err(err)? as u64;
        landed.landed = inserted;
        landed.duplicates = batch.events.len() as u64 - inserted;
        record_batch(c, name, batch, &landed)?;
        Ok(landed)
    })
}

fn record_batch(c: &Connection, name: &str, batch: &Batch, landed: &Landed) -> Result<()> {
    let events = batch.events.len() + batch.rejects.len() + batch.duplicates as usize;
    c.execute(
        "INSERT INTO _derived.stream_batches VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, make_timestamp(?), make_timestamp(?), now())",
        params![
            name,
            batch.first_sequence as i64,
            batch.last_sequence as i64,
            events as i64,
            landed.landed as i64,
            (landed.duplicates + batch.duplicates) as i64,
            batch.rejects.len() as i64,
            landed.late as i64,
            landed.late_range.map(|r| to_micros(r.start)),
            landed.late_range.map(|r| to_micros(r.end)),
        ],
    )
    .map_err(err)?;
    let mut partitions = c
        .prepare("INSERT INTO _derived.stream_partitions VALUES (?, ?, make_timestamp(?), ?)")
        .map_err(err)?;
    for (partition, time) in &batch.partitions {
        partitions
            .execute(params![
                name,
                partition,
                to_micros(*time),
                batch.last_sequence as i64
            ])
            .map_err(err)?;
    }
    let mut rejects = c
        .prepare("INSERT INTO _derived.stream_rejects VALUES (?, ?, ?, ?, ?, now())")
        .map_err(err)?;
    for r in &batch.rejects {
        rejects
            .execute(params![
                name,
                r.sequence as i64,
                r.partition,
                r.payload,
                r.error
            ])
            .map_err(err)?;
    }
    Ok(())
}

pub fn replay(
    c: &Connection,
    source: &Source,
    files: &str,
    late_before: Option<Timestamp>,
) -> Result<(Landed, Option<Timestamp>)> {
    let stream = stream_of(source)?;
    let target = PhysicalName::of(&source.name, "prod");
    let names: Vec<String> = source.columns.iter().map(|c| quote(&c.name)).collect();
    let casts: Vec<String> = source
        .columns
        .iter()
        .map(|col| {
            format!(
                "CAST({} AS {}) AS {}",
                quote(&col.name),
                declared_type(source, &col.name),
                quote(&col.name)
            )
        })
        .collect();
    let id = quote(&stream.event_id);
    let time = quote(&stream.event_time);
    let archived: i64 = c
        .query_row(
            &format!(
                "SELECT count(*) FROM read_parquet({}, union_by_name = true)",
                string_literal(files)
            ),
            [],
            |r| r.get(0),
        )
        .map_err(|e| WarehouseError::new(format!("cannot read {files}: {e}")))?;
    c.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE _derived_replay AS SELECT {} FROM read_parquet({}, union_by_name = true) \
         QUALIFY row_number() OVER (PARTITION BY {id} ORDER BY {time}) = 1",
        casts.join(", "),
        string_literal(files)
    ))
    .map_err(err)?;
    let result = in_transaction(c, |c| {
        let mut landed = Landed::default();
        if let Some(before) = late_before {
            let rows = format!(
                "SELECT CAST({id} AS VARCHAR) AS event_id, CAST({time} AS TIMESTAMP) AS event_time FROM _derived_replay"
            );
            (landed.late, landed.late_range) = late(c, source, &rows, before)?;
        }
        let inserted = c
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO {} ({}) SELECT {} FROM _derived_replay",
                    target.sql(),
                    names.join(", "),
                    names.join(", ")
                ),
                [],
            )
            .map_err(err)? as u64;
        let through: Option<i64> = c
            .query_row(
                &format!("SELECT epoch_us(max(CAST({time} AS TIMESTAMP))) FROM _derived_replay"),
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        landed.landed = inserted;
        landed.duplicates = archived as u64 - inserted;
        c.execute(
            "INSERT INTO _derived.stream_batches VALUES (?, NULL, NULL, ?, ?, ?, ?, 0, ?, make_timestamp(?), make_timestamp(?), now())",
            params![
                source.name.as_str(),
                files,
                archived,
                inserted as i64,
                archived - inserted as i64,
                landed.late as i64,
                landed.late_range.map(|r| to_micros(r.start)),
                landed.late_range.map(|r| to_micros(r.end)),
            ],
        )
        .map_err(err)?;
        Ok((landed, through.map(from_micros)))
    });
    let _ = c.execute_batch("DROP TABLE IF EXISTS _derived_replay");
    result
}
