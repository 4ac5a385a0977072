//! Landing stream events. The landing table's primary key is the event id, so
//! `INSERT OR IGNORE` lands each event once; the batch's stream position is
//! written in the same transaction, so a crash redelivers or resumes, never both.

use super::{Batch, Landed, Landing, StreamState};
use crate::env::PhysicalName;
use crate::project::{Column, Source, Stream};
use crate::time::{from_micros, to_micros, Interval, Schedule, Timestamp};
use crate::warehouse::duckdb::{err, in_transaction, literal, string_literal, DuckDbWarehouse};
use crate::warehouse::{Dialect, Result, WarehouseError};
use ::duckdb::{params, Connection};

impl Landing for DuckDbWarehouse {
    fn open_stream(&self, source: &Source) -> Result<StreamState> {
        self.with_conn(|c| open(c, source))
    }

    fn land(
        &self,
        source: &Source,
        batch: &Batch,
        late_before: Option<Timestamp>,
    ) -> Result<Landed> {
        self.with_conn(|c| land(c, source, batch, late_before))
    }

    fn replay(
        &self,
        source: &Source,
        files: &str,
        late_before: Option<Timestamp>,
    ) -> Result<(Landed, Option<Timestamp>)> {
        self.with_conn(|c| replay(c, source, files, late_before))
    }
}

fn quote(ident: &str) -> String {
    Dialect::Ansi.quote(ident)
}

const SETUP: &str = "CREATE TABLE IF NOT EXISTS _derived.stream_batches (source VARCHAR NOT NULL, origin VARCHAR, first_sequence BIGINT, last_sequence BIGINT, replayed VARCHAR, events BIGINT NOT NULL, landed BIGINT NOT NULL, duplicates BIGINT NOT NULL, rejected BIGINT NOT NULL, late BIGINT NOT NULL, max_event_time TIMESTAMP, committed_at TIMESTAMP NOT NULL); \
    CREATE TABLE IF NOT EXISTS _derived.stream_late (source VARCHAR NOT NULL, last_sequence BIGINT, late_from TIMESTAMP NOT NULL, late_to TIMESTAMP NOT NULL); \
    CREATE TABLE IF NOT EXISTS _derived.stream_partitions (source VARCHAR NOT NULL, partition VARCHAR NOT NULL, max_event_time TIMESTAMP NOT NULL, last_sequence BIGINT NOT NULL); \
    CREATE TABLE IF NOT EXISTS _derived.stream_rejects (source VARCHAR NOT NULL, sequence BIGINT NOT NULL, partition VARCHAR NOT NULL, payload VARCHAR NOT NULL, error VARCHAR NOT NULL, rejected_at TIMESTAMP NOT NULL)";

const LANDING: &str = "CREATE TEMP TABLE IF NOT EXISTS _derived_landing (sequence BIGINT, partition VARCHAR, event_id VARCHAR, event_time BIGINT, payload VARCHAR)";

fn stream_of(source: &Source) -> Result<&Stream> {
    source
        .stream
        .as_deref()
        .ok_or_else(|| WarehouseError::new(format!("{} is not a stream source", source.name)))
}

/// A declared column with its type (the loader requires one on stream sources).
fn typed(col: &Column) -> (String, &str) {
    (
        quote(&col.name),
        col.data_type.as_deref().unwrap_or("VARCHAR"),
    )
}

fn declared_type<'s>(source: &'s Source, column: &str) -> &'s str {
    source
        .columns
        .iter()
        .find(|c| c.name == column)
        .map_or("VARCHAR", |c| typed(c).1)
}

fn open(c: &Connection, source: &Source) -> Result<StreamState> {
    let stream = stream_of(source)?;
    let target = PhysicalName::prod(&source.name);
    let columns: Vec<String> = source
        .columns
        .iter()
        .map(|col| {
            let (name, ty) = typed(col);
            format!("{name} {ty}")
        })
        .collect();
    c.execute_batch(&format!(
        "{SETUP}; CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))",
        quote(&target.schema),
        Dialect::Ansi.table(&target),
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
    let (position, origin, replayed_through): (i64, Option<String>, Option<i64>) = c
        .query_row(
            "SELECT coalesce(max(last_sequence), 0), arg_max(origin, last_sequence), \
             epoch_us(max(max_event_time) FILTER (WHERE replayed IS NOT NULL)) \
             FROM _derived.stream_batches WHERE source = ?",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(err)?;
    let mut state = StreamState {
        position: position as u64,
        origin,
        replayed_through: replayed_through.map(from_micros),
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
        .prepare("SELECT epoch_us(late_from), epoch_us(late_to) FROM _derived.stream_late WHERE source = ? ORDER BY rowid DESC LIMIT 1000")
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

/// How each declared column is read from a staged payload: the event id and
/// time from the decoded fields, the rest from the JSON field of its name.
fn raw_values(source: &Source, stream: &Stream) -> Vec<(String, String, String)> {
    source
        .columns
        .iter()
        .map(|col| {
            let (name, ty) = typed(col);
            let raw = if col.name == stream.event_time {
                "make_timestamp(event_time)".to_string()
            } else if col.name == stream.event_id {
                "event_id".to_string()
            } else {
                let path = format!("$.\"{}\"", col.name.replace('"', "\\\""));
                format!("json_extract_string(payload, {})", string_literal(&path))
            };
            (name, raw, ty.to_string())
        })
        .collect()
}

/// The count and time ranges of `rows` (a query with `event_id` as text and
/// `event_time` as a timestamp) that are older than `before` and new to
/// `target`: one range per run of consecutive hours holding such events, so
/// that scattered late events repair only the intervals they fall in.
fn late(
    c: &Connection,
    source: &Source,
    rows: &str,
    before: Timestamp,
) -> Result<(u64, Vec<Interval>)> {
    let stream = stream_of(source)?;
    let target = PhysicalName::prod(&source.name);
    let sql = format!(
        "SELECT count(*), epoch_us(min(l.event_time)), epoch_us(max(l.event_time)) FROM ({rows}) AS l \
         WHERE l.event_time < {} AND NOT EXISTS (SELECT 1 FROM {} AS t WHERE t.{} = CAST(l.event_id AS {})) \
         GROUP BY date_trunc('hour', l.event_time) ORDER BY 2",
        literal(before),
        Dialect::Ansi.table(&target),
        quote(&stream.event_id),
        declared_type(source, &stream.event_id)
    );
    let mut stmt = c.prepare(&sql).map_err(err)?;
    let hours = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(err)?;
    let mut count = 0;
    let mut ranges: Vec<Interval> = Vec::new();
    let mut previous_hour = None;
    for row in hours {
        let (n, min, max) = row.map_err(err)?;
        count += n as u64;
        let (start, end) = (from_micros(min), from_micros(max + 1));
        let hour = Schedule::Hourly.floor(start);
        let follows = previous_hour.map(|h| Schedule::Hourly.next(h)) == Some(hour);
        let Some(interval) = Interval::new(start, end) else {
            continue;
        };
        match ranges.last_mut() {
            Some(last) if follows => *last = last.span(&interval),
            _ => ranges.push(interval),
        }
        previous_hour = Some(hour);
    }
    Ok((count, ranges))
}

/// Lands a batch; when a value does not fit its column (the insert fails),
/// lands it again setting such events aside, a cost paid only then.
fn land(
    c: &Connection,
    source: &Source,
    batch: &Batch,
    late_before: Option<Timestamp>,
) -> Result<Landed> {
    land_batch(c, source, batch, late_before, false)
        .or_else(|_| land_batch(c, source, batch, late_before, true))
}

fn land_batch(
    c: &Connection,
    source: &Source,
    batch: &Batch,
    late_before: Option<Timestamp>,
    set_misfits_aside: bool,
) -> Result<Landed> {
    let stream = stream_of(source)?;
    let target = PhysicalName::prod(&source.name);
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
        let values = raw_values(source, stream);
        let misfits = if set_misfits_aside {
            reject_misfits(c, name, &values)?
        } else {
            0
        };
        let mut landed = Landed {
            rejected: misfits + batch.rejects.len() as u64,
            ..Landed::default()
        };
        if let Some(before) = late_before {
            if batch.events.iter().any(|e| e.event_time < before) {
                let rows = "SELECT event_id, make_timestamp(event_time) AS event_time FROM _derived_landing";
                (landed.late, landed.late_ranges) = late(c, source, rows, before)?;
            }
        }
        let names: Vec<&str> = values.iter().map(|(n, _, _)| n.as_str()).collect();
        let casts: Vec<String> = values
            .iter()
            .map(|(_, raw, ty)| format!("CAST({raw} AS {ty})"))
            .collect();
        // Ids equal only once cast (e.g. "7" and "07" as BIGINT) are one event too.
        let inserted = c
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO {} ({}) SELECT {} FROM _derived_landing \
                     QUALIFY row_number() OVER (PARTITION BY CAST(event_id AS {}) ORDER BY sequence) = 1",
                    Dialect::Ansi.table(&target),
                    names.join(", "),
                    casts.join(", "),
                    declared_type(source, &stream.event_id)
                ),
                [],
            )
            .map_err(err)? as u64;
        landed.landed = inserted;
        landed.duplicates = batch.events.len() as u64 - misfits - inserted;
        record_batch(
            c,
            &BatchRow {
                source: name,
                origin: Some(&batch.origin),
                sequences: Some((batch.first_sequence, batch.last_sequence)),
                replayed: None,
                events: (batch.events.len() + batch.rejects.len()) as u64 + batch.duplicates,
                landed: &landed,
                duplicates: landed.duplicates + batch.duplicates,
                max_event_time: batch.partitions.values().max().copied(),
            },
        )?;
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
        Ok(landed)
    })
}

/// Moves staged events with a field that does not fit its column's type to
/// `_derived.stream_rejects`, so that one bad event cannot stall the stream.
fn reject_misfits(
    c: &Connection,
    source: &str,
    values: &[(String, String, String)],
) -> Result<u64> {
    let misfit =
        |raw: &str, ty: &str| format!("({raw} IS NOT NULL AND TRY_CAST({raw} AS {ty}) IS NULL)");
    let any: Vec<String> = values.iter().map(|(_, raw, ty)| misfit(raw, ty)).collect();
    let reasons: Vec<String> = values
        .iter()
        .map(|(name, raw, ty)| {
            format!(
                "CASE WHEN {} THEN {} END",
                misfit(raw, ty),
                string_literal(&format!("`{name}` is not {ty}"))
            )
        })
        .collect();
    let condition = any.join(" OR ");
    let rejected = c
        .execute(
            &format!(
                "INSERT INTO _derived.stream_rejects SELECT ?, sequence, partition, payload, \
                 concat_ws('; ', {}), now() FROM _derived_landing WHERE {condition}",
                reasons.join(", ")
            ),
            [source],
        )
        .map_err(err)?;
    if rejected > 0 {
        c.execute_batch(&format!("DELETE FROM _derived_landing WHERE {condition}"))
            .map_err(err)?;
    }
    Ok(rejected as u64)
}

/// One row of `_derived.stream_batches`: a landed batch or a replay.
struct BatchRow<'a> {
    source: &'a str,
    origin: Option<&'a str>,
    sequences: Option<(u64, u64)>,
    replayed: Option<&'a str>,
    events: u64,
    landed: &'a Landed,
    duplicates: u64,
    max_event_time: Option<Timestamp>,
}

fn record_batch(c: &Connection, row: &BatchRow) -> Result<()> {
    let micros = |t: Option<Timestamp>| t.map(to_micros);
    c.execute(
        "INSERT INTO _derived.stream_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, make_timestamp(?), now())",
        params![
            row.source,
            row.origin,
            row.sequences.map(|s| s.0 as i64),
            row.sequences.map(|s| s.1 as i64),
            row.replayed,
            row.events as i64,
            row.landed.landed as i64,
            row.duplicates as i64,
            row.landed.rejected as i64,
            row.landed.late as i64,
            micros(row.max_event_time),
        ],
    )
    .map_err(err)?;
    let mut late = c
        .prepare(
            "INSERT INTO _derived.stream_late VALUES (?, ?, make_timestamp(?), make_timestamp(?))",
        )
        .map_err(err)?;
    for range in &row.landed.late_ranges {
        late.execute(params![
            row.source,
            row.sequences.map(|s| s.1 as i64),
            to_micros(range.start()),
            to_micros(range.end())
        ])
        .map_err(err)?;
    }
    Ok(())
}

fn replay(
    c: &Connection,
    source: &Source,
    files: &str,
    late_before: Option<Timestamp>,
) -> Result<(Landed, Option<Timestamp>)> {
    let stream = stream_of(source)?;
    let target = PhysicalName::prod(&source.name);
    let names: Vec<String> = source.columns.iter().map(|col| typed(col).0).collect();
    let casts: Vec<String> = source
        .columns
        .iter()
        .map(|col| {
            let (name, ty) = typed(col);
            format!("CAST({name} AS {ty}) AS {name}")
        })
        .collect();
    let id = quote(&stream.event_id);
    let time = quote(&stream.event_time);
    c.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE _derived_replay AS SELECT {}, count(*) OVER (PARTITION BY {id}) AS _copies \
         FROM read_parquet({}, union_by_name = true) \
         QUALIFY row_number() OVER (PARTITION BY {id} ORDER BY {time}) = 1",
        casts.join(", "),
        string_literal(files)
    ))
    .map_err(|e| WarehouseError::new(format!("cannot read {files}: {e}")))?;
    let result = in_transaction(c, |c| {
        let mut landed = Landed::default();
        if let Some(before) = late_before {
            let rows = format!(
                "SELECT CAST({id} AS VARCHAR) AS event_id, CAST({time} AS TIMESTAMP) AS event_time FROM _derived_replay"
            );
            (landed.late, landed.late_ranges) = late(c, source, &rows, before)?;
        }
        let inserted = c
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO {} ({}) SELECT {} FROM _derived_replay",
                    Dialect::Ansi.table(&target),
                    names.join(", "),
                    names.join(", ")
                ),
                [],
            )
            .map_err(err)? as u64;
        let (archived, through): (i64, Option<i64>) = c
            .query_row(
                &format!("SELECT coalesce(sum(_copies), 0), epoch_us(max(CAST({time} AS TIMESTAMP))) FROM _derived_replay"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        landed.landed = inserted;
        landed.duplicates = archived as u64 - inserted;
        let through = through.map(from_micros);
        record_batch(
            c,
            &BatchRow {
                source: source.name.as_str(),
                origin: None,
                sequences: None,
                replayed: Some(files),
                events: archived as u64,
                landed: &landed,
                duplicates: landed.duplicates,
                max_event_time: through,
            },
        )?;
        Ok((landed, through))
    });
    let _ = c.execute_batch("DROP TABLE IF EXISTS _derived_replay");
    result
}
