//! A PostgreSQL database of its own per test on the machine's server
//! (127.0.0.1:5432, trust auth). A missing server fails the test loudly.

use std::path::Path;

pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database created for one test and dropped when the test ends.
pub struct Database {
    pub name: String,
}

impl Database {
    pub fn new(purpose: &str) -> Database {
        let name = format!("derived_{purpose}_{}", std::process::id());
        let admin = format!("{SERVER}/test");
        query(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        query(&admin, &format!("CREATE DATABASE {name}"));
        Database { name }
    }

    pub fn url(&self) -> String {
        format!("{SERVER}/{}", self.name)
    }

    /// Every value as text (NULL as "NULL"), in the order the query gives.
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        query(&self.url(), sql)
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.rows(sql)[0][0].parse().unwrap()
    }

    /// Loads the example's four sources from `data/` into `raw.*`, typed as
    /// `examples/postgres` declares them.
    pub fn load_example_sources(&self) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let project = derived::project::load(&repo.join("examples/postgres"));
        let files = [
            ("raw.messages", "data/messages/*.parquet"),
            ("raw.voice_sessions", "data/voice_sessions.parquet"),
            ("raw.users", "data/users.parquet"),
            (
                "raw.guild_member_events",
                "data/guild_member_events.parquet",
            ),
        ];
        let csv_dir = tempfile::tempdir().unwrap();
        let duck = duckdb::Connection::open_in_memory().unwrap();
        let mut ddl = String::from("CREATE SCHEMA IF NOT EXISTS raw;\n");
        for (name, glob) in files {
            let source = project
                .sources()
                .find(|s| s.name.as_str() == name)
                .unwrap_or_else(|| panic!("{name} is a source of examples/postgres"));
            let columns: Vec<&str> = source.columns.iter().map(|c| c.name.as_str()).collect();
            let typed: Vec<String> = source
                .columns
                .iter()
                .map(|c| format!("{} {}", c.name, c.data_type.as_deref().unwrap()))
                .collect();
            ddl.push_str(&format!("CREATE TABLE {name} ({});\n", typed.join(", ")));
            let csv = csv_dir.path().join(format!("{name}.csv"));
            duck.execute_batch(&format!(
                "COPY (SELECT {} FROM read_parquet('{}')) TO '{}' (FORMAT csv, HEADER)",
                columns.join(", "),
                repo.join(glob).display(),
                csv.display()
            ))
            .unwrap();
            ddl.push_str(&format!(
                "\\copy {name} FROM '{}' CSV HEADER\n",
                csv.display()
            ));
        }
        let out = std::process::Command::new("psql")
            .args(["-v", "ON_ERROR_STOP=1", "-q", &self.url()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(ddl.as_bytes())?;
                child.wait_with_output()
            })
            .expect("psql (PostgreSQL's client) is required");
        assert!(
            out.status.success(),
            "loading the sources failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let admin = format!("{SERVER}/test");
        let _ = std::panic::catch_unwind(|| {
            query(
                &admin,
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            )
        });
    }
}

pub fn query(url: &str, sql: &str) -> Vec<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required: {e}"));
        tokio::spawn(connection);
        let mut out = Vec::new();
        for message in client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{e:?}\n{sql}"))
        {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                out.push(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or("NULL").to_string())
                        .collect(),
                );
            }
        }
        out
    })
}
