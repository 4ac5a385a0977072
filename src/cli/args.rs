//! Command-line flags (SPEC §8). Parsed once into these types; nothing inward sees clap.

use crate::env::Env;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "derived",
    version,
    about = "Keeps SQL-defined derived tables fresh, from a metadata log"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The project folder (holds derived.yml and tables/).
    #[arg(long, global = true, default_value = ".")]
    pub project: PathBuf,
    /// The clock every decision uses (RFC 3339); default: now.
    #[arg(long, global = true, env = "DERIVED_NOW")]
    pub now: Option<String>,
    /// Environment: `prod`, or any other name for a prefixed copy.
    #[arg(long, global = true, default_value_t = Env::Prod, value_parser = Env::parse)]
    pub env: Env,
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Read the definitions from this git revision instead of the working tree.
    #[arg(long, global = true)]
    pub rev: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Dot,
    Mermaid,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load, render and parse every definition; report every problem.
    Validate {
        /// Also dry-run every table's query on the warehouse (BigQuery): errors
        /// and the bytes each would scan.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the dependency DAG.
    Dag {
        #[arg(long)]
        select: Option<String>,
    },
    /// Show what `run` would do now, and why.
    Plan {
        #[arg(long)]
        select: Option<String>,
    },
    /// Execute the plan.
    Run {
        #[arg(long)]
        select: Option<String>,
        /// Concurrent runs (default: number of cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Refuse (exit 1, nothing run) a plan whose queries would read more
        /// bytes than this, by dry run (BigQuery).
        #[arg(long)]
        max_bytes: Option<u64>,
    },
    /// Re-run a table's intervals over [--from, --to) (a source: re-run its readers).
    Backfill {
        table: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Repair every downstream table in the same invocation.
        #[arg(long)]
        downstream: bool,
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Rebuild a table from `start` into a fresh table, then swap it in.
    Rebuild {
        table: String,
        /// Repair every downstream table in the same invocation.
        #[arg(long)]
        downstream: bool,
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Hold a table and everything downstream of it: nothing of them is planned until `resume`.
    Pause {
        table: String,
        /// Why, for the log and `status`.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Let a paused table (and its downstream) be planned again.
    Resume { table: String },
    /// Per table: state, watermark, lag and last run.
    Status {
        select: Option<String>,
        /// Exit 1 when any table is failed, blocked or late.
        #[arg(long)]
        check: bool,
    },
    /// Run every data check against the tables' current data.
    Check { select: Option<String> },
    /// Run the tables' unit tests on their fixture rows; nothing is written.
    Test { select: Option<String> },
    /// The metadata log, newest first.
    Log {
        table: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Run a read-only query on the warehouse.
    Query { sql: String },
    /// Shadow-build the tables a change touches, diff them against production, report.
    Ci {
        /// The revision the change is compared with (e.g. origin/main, HEAD~1).
        #[arg(long)]
        base: String,
        /// The changed revision (default: the working tree).
        #[arg(long)]
        head: Option<String>,
        /// How much recent data to build and compare.
        #[arg(long, default_value = "3d")]
        last: String,
        /// Also write the markdown report to this file.
        #[arg(long)]
        report: Option<std::path::PathBuf>,
        /// First drop shadow environments whose last run is older than this (e.g. 7d).
        #[arg(long)]
        cleanup: Option<String>,
    },
    /// Table- and column-level lineage (`TABLE` or `TABLE.column`), or a run's (`--run`).
    Lineage {
        node: Option<String>,
        #[arg(long)]
        upstream: bool,
        #[arg(long)]
        downstream: bool,
        #[arg(long, default_value_t = 100)]
        depth: usize,
        /// The upstream runs a run read, recursively.
        #[arg(long)]
        run: Option<i64>,
    },
    /// Write the static catalog site.
    Docs {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Read one exported row back from the table's first online store.
    Lookup { table: String, key: Vec<String> },
    /// A definition's git commits next to the runs they caused.
    History { table: String },
    /// Keep every table fresh: plan, claim, run, record, until SIGTERM.
    /// Several workers share the work through a PostgreSQL metadata store.
    Worker {
        #[command(flatten)]
        flags: WorkerArgs,
    },
    /// A worker that also answers /health and /metrics (Prometheus) over HTTP.
    Serve {
        #[command(flatten)]
        flags: WorkerArgs,
        /// Address of the HTTP endpoint.
        #[arg(long, default_value = "127.0.0.1:9464")]
        listen: std::net::SocketAddr,
    },
    /// Land a stream source's events exactly once, advance its watermark, and
    /// keep the tables that read it fresh.
    Ingest {
        source: String,
        /// First load archived events (a Parquet glob) through the same dedup.
        #[arg(long)]
        replay_from: Option<String>,
        /// The most events landed in one transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Go on after events the broker removed before they landed (load
        /// them with --replay-from first).
        #[arg(long)]
        allow_gap: bool,
        #[command(flatten)]
        flags: WorkerArgs,
    },
    /// Source commands.
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
}

#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Concurrent runs in this process (default: number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Exit once nothing is left to do (exit 1 if any of this worker's runs failed).
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Re-plan this often when no notification arrives.
    #[arg(long, default_value = "30s")]
    pub poll: String,
    /// A lease not renewed for this long is taken over by another worker.
    #[arg(long, default_value = "30s")]
    pub lease_ttl: String,
    /// Wait this long before retrying a failed table.
    #[arg(long, default_value = "5m")]
    pub retry_after: String,
}

#[derive(Subcommand, Debug)]
pub enum SourceCommand {
    /// Declare a source complete through a time.
    Mark {
        source: String,
        #[arg(long)]
        through: String,
    },
}
