//! Online export throughput (1,000,000 rows read from DuckDB and written to Redis
//! and PostgreSQL) and lookup latency (p50/p99 over 10,000 reads through the same
//! client code as `derived lookup`). Needs Redis on 127.0.0.1:6379 and PostgreSQL
//! on 127.0.0.1:5432. Run with `cargo bench --bench export`.

use derived::export::{connect, Rows, Sync};
use derived::project::config::Store;
use derived::warehouse::duckdb::DuckDbWarehouse;
use derived::warehouse::Warehouse;
use std::time::Instant;

const ROWS: usize = 1_000_000;

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("tables")).unwrap();
    std::fs::write(
        tmp.path().join("tables/t.yml"),
        "name: bench.features\nschedule: daily\nstart: 2024-01-01\nexport:\n  - {to: redis, key: [user_id]}\nsql: SELECT 1 AS user_id\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("derived.yml"),
        "stores:\n  redis: {url: 'redis://127.0.0.1:6379'}\n",
    )
    .unwrap();
    let project = derived::project::load(tmp.path());
    let table = project.tables().next().unwrap();
    let export = &table.exports[0];

    let warehouse = DuckDbWarehouse::in_memory().unwrap();
    let started = Instant::now();
    let result = warehouse
        .query(&format!(
            "SELECT i AS user_id, 'c' || (i % 50) AS country, i % 1000 AS messages, (i % 7) * 1.5 AS score, TIMESTAMP '2024-01-01' + to_seconds(i) AS last_seen FROM range({ROWS}) r(i)"
        ))
        .unwrap();
    let read = started.elapsed().as_secs_f64();
    let types: Vec<String> = ["BIGINT", "VARCHAR", "BIGINT", "DOUBLE", "TIMESTAMP"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows = Rows {
        result: &result,
        types: &types,
    };
    println!("read {ROWS} rows from DuckDB into the exporter: {read:.2} s");

    let stores = [
        (
            "redis",
            Store::Redis {
                url: "redis://127.0.0.1:6379".into(),
            },
        ),
        (
            "postgres",
            Store::Postgres {
                url: "postgres://postgres@127.0.0.1:5432/test".into(),
                schema: "derived_bench".into(),
            },
        ),
    ];
    for (name, store) in &stores {
        let mut client = connect(name, store).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        client.write(table, export, &rows, Sync::Upsert).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{name}: wrote {ROWS} rows in {seconds:.2} s = {:.0} rows/s",
            ROWS as f64 / seconds
        );
        let mut latencies = Vec::with_capacity(10_000);
        for i in 0..10_000u64 {
            let key = vec![((i * 7919) % ROWS as u64).to_string()];
            let started = Instant::now();
            let row = client.lookup(table, export, &key).unwrap();
            latencies.push(started.elapsed().as_secs_f64() * 1e6);
            assert!(row.is_some());
        }
        latencies.sort_by(f64::total_cmp);
        println!(
            "{name}: lookup p50 {:.0} µs, p99 {:.0} µs",
            latencies[5_000], latencies[9_900]
        );
    }
}
