//! `derived.yml`: where the warehouse and the metadata log live, the dialect, vars.

use super::diagnostic::Diagnostic;
use super::refs::SqlDialect;
use super::yaml::Reader;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarehouseConfig {
    DuckDb {
        path: PathBuf,
    },
    BigQuery {
        project: String,
        location: Option<String>,
        credentials: Option<PathBuf>,
        /// The REST API's base URL when not Google's (an emulator, a test server).
        endpoint: Option<String>,
    },
    Postgres {
        url: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataConfig {
    DuckDb { path: PathBuf },
    Postgres { url: String, schema: String },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub warehouse: WarehouseConfig,
    pub metadata: MetadataConfig,
    pub dialect: SqlDialect,
    pub vars: BTreeMap<String, minijinja::Value>,
    /// Functions whose output carries no policy.
    pub privatizers: Vec<String>,
    pub policies: BTreeMap<String, Policy>,
    /// Online stores that tables export to, by name.
    pub stores: BTreeMap<String, Store>,
    /// `defaults: {timeout}`: how long a table's run may take unless it says.
    pub default_timeout: Option<crate::time::Duration>,
}

/// Who may see columns tagged with a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub readers: Vec<String>,
    pub exports: Vec<String>,
    /// Functions (e.g. `count`) whose output no longer carries this policy.
    pub cleared_by: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Store {
    Redis {
        url: String,
    },
    Postgres {
        url: String,
        schema: String,
    },
    Scylla {
        nodes: Vec<String>,
        keyspace: String,
    },
}

impl Config {
    pub fn default_for(root: &Path) -> Config {
        Config {
            warehouse: WarehouseConfig::DuckDb {
                path: root.join(".derived/warehouse.duckdb"),
            },
            metadata: MetadataConfig::DuckDb {
                path: root.join(".derived/metadata.duckdb"),
            },
            dialect: SqlDialect::DuckDb,
            vars: BTreeMap::new(),
            privatizers: Vec::new(),
            policies: BTreeMap::new(),
            stores: BTreeMap::new(),
            default_timeout: None,
        }
    }

    /// The warehouse's default project: three-part names in it resolve to two parts.
    pub fn default_project(&self) -> Option<&str> {
        match &self.warehouse {
            WarehouseConfig::BigQuery { project, .. } => Some(project),
            _ => None,
        }
    }
}

const KEYS: [&str; 10] = [
    "defaults",
    "warehouse",
    "metadata",
    "dialect",
    "vars",
    "privatizers",
    "policies",
    "stores",
    "environments",
    "name",
];

/// The configuration in `root/derived.yml` alone (absent: defaults), for
/// commands that need no definitions.
pub fn read(root: &Path) -> Config {
    let path = root.join("derived.yml");
    match std::fs::read_to_string(&path) {
        Ok(text) => load(root, &path, &text).0,
        Err(_) => Config::default_for(root),
    }
}

/// Reads `derived.yml` (absent: defaults); problems are returned, not thrown.
pub fn load(root: &Path, file: &Path, text: &str) -> (Config, Vec<Diagnostic>) {
    let mut config = Config::default_for(root);
    let mut reader = Reader::new(file, text);
    let map: Mapping = match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => m,
        Ok(Value::Null) => return (config, Vec::new()),
        Ok(_) => {
            reader.error(
                "invalid-type",
                0..0,
                "derived.yml must be a mapping of keys to values",
                None,
            );
            return (config, reader.diagnostics);
        }
        Err(e) => {
            let offset = e.location().map_or(0, |l| l.index());
            reader.error(
                "yaml-syntax",
                offset..offset,
                format!("YAML syntax error: {e}"),
                None,
            );
            return (config, reader.diagnostics);
        }
    };
    let whole = reader.whole();
    reader.unknown_keys(&map, whole, &KEYS, "derived.yml");
    let dialect_given = map.contains_key("dialect");
    if let Some(defaults) = reader.mapping(&map, whole, "defaults") {
        let scope = reader.nested(whole, "defaults");
        reader.unknown_keys(defaults, scope, &["timeout"], "defaults");
        if let Some(text) = reader.string(defaults, scope, "timeout") {
            match crate::time::Duration::parse(&text) {
                Ok(timeout) => config.default_timeout = Some(timeout),
                Err(message) => {
                    let span = reader.value_span(scope, "timeout");
                    reader.error(
                        "invalid-duration",
                        span,
                        format!("`timeout`: {message}"),
                        Some("durations look like 15m, 1h, 1d or 7d".into()),
                    );
                }
            }
        }
    }
    if let Some(w) = reader.mapping(&map, whole, "warehouse") {
        let scope = reader.nested(whole, "warehouse");
        config.warehouse = match reader.string(w, scope, "type").as_deref() {
            Some("duckdb") | None => WarehouseConfig::DuckDb {
                path: root.join(
                    reader
                        .string(w, scope, "path")
                        .unwrap_or(".derived/warehouse.duckdb".into()),
                ),
            },
            Some("bigquery") => WarehouseConfig::BigQuery {
                project: reader
                    .required_string(
                        w,
                        scope,
                        "project",
                        "a bigquery warehouse",
                        "my-gcp-project",
                    )
                    .unwrap_or_default(),
                location: reader.string(w, scope, "location"),
                credentials: reader.string(w, scope, "credentials").map(|p| root.join(p)),
                endpoint: reader.string(w, scope, "endpoint"),
            },
            Some("postgres") => WarehouseConfig::Postgres {
                url: reader
                    .required_string(
                        w,
                        scope,
                        "url",
                        "a postgres warehouse",
                        "postgres://user@host:5432/db",
                    )
                    .unwrap_or_default(),
            },
            Some(other) => {
                let span = reader.value_span(scope, "type");
                reader.error(
                    "unknown-warehouse",
                    span,
                    format!("unknown warehouse type `{other}`"),
                    Some("use duckdb, bigquery or postgres".into()),
                );
                config.warehouse
            }
        };
    }
    if let Some(m) = reader.mapping(&map, whole, "metadata") {
        let scope = reader.nested(whole, "metadata");
        config.metadata = match reader.string(m, scope, "type").as_deref() {
            Some("duckdb") | None => MetadataConfig::DuckDb {
                path: root.join(
                    reader
                        .string(m, scope, "path")
                        .unwrap_or(".derived/metadata.duckdb".into()),
                ),
            },
            Some("postgres") => MetadataConfig::Postgres {
                url: reader
                    .required_string(
                        m,
                        scope,
                        "url",
                        "a postgres metadata store",
                        "postgres://user@host:5432/db",
                    )
                    .unwrap_or_default(),
                schema: reader
                    .string(m, scope, "schema")
                    .unwrap_or_else(|| "derived".into()),
            },
            Some(other) => {
                let span = reader.value_span(scope, "type");
                reader.error(
                    "unknown-metadata",
                    span,
                    format!("unknown metadata store type `{other}`"),
                    Some("use duckdb or postgres".into()),
                );
                config.metadata
            }
        };
    }
    config.dialect = match &config.warehouse {
        WarehouseConfig::BigQuery { .. } => SqlDialect::BigQuery,
        WarehouseConfig::Postgres { .. } => SqlDialect::Postgres,
        WarehouseConfig::DuckDb { .. } => SqlDialect::DuckDb,
    };
    if dialect_given {
        if let Some(name) = reader.string(&map, whole, "dialect") {
            match SqlDialect::parse_name(&name) {
                Some(d) => config.dialect = d,
                None => {
                    let span = reader.value_span(whole, "dialect");
                    reader.error(
                        "unknown-dialect",
                        span,
                        format!("unknown dialect `{name}`"),
                        Some("use duckdb, bigquery, postgres or generic".into()),
                    );
                }
            }
        }
    }
    if let Some(vars) = reader.mapping(&map, whole, "vars") {
        for (k, v) in vars {
            if let Some(k) = k.as_str() {
                config
                    .vars
                    .insert(k.to_string(), minijinja::Value::from_serialize(v));
            }
        }
    }
    config.privatizers = reader
        .string_list(&map, whole, "privatizers")
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if let Some(policies) = reader.mapping(&map, whole, "policies") {
        let scope = reader.nested(whole, "policies");
        for (name, body) in policies {
            let (Some(name), Some(body)) = (name.as_str(), body.as_mapping()) else {
                continue;
            };
            let inner = reader.nested(scope, name);
            reader.unknown_keys(
                body,
                inner,
                &["readers", "exports", "cleared_by"],
                "a policy",
            );
            let policy = Policy {
                readers: reader.string_list(body, inner, "readers"),
                exports: reader.string_list(body, inner, "exports"),
                cleared_by: reader
                    .string_list(body, inner, "cleared_by")
                    .into_iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect(),
            };
            config.policies.insert(name.to_string(), policy);
        }
    }
    if let Some(stores) = reader.mapping(&map, whole, "stores") {
        let scope = reader.nested(whole, "stores");
        for (name, body) in stores {
            let (Some(name), Some(body)) = (name.as_str(), body.as_mapping()) else {
                continue;
            };
            let inner = reader.nested(scope, name);
            let kind = reader
                .string(body, inner, "type")
                .unwrap_or_else(|| name.to_string());
            let store = match kind.as_str() {
                "redis" => Store::Redis {
                    url: reader
                        .required_string(
                            body,
                            inner,
                            "url",
                            "a redis store",
                            "redis://127.0.0.1:6379",
                        )
                        .unwrap_or_default(),
                },
                "postgres" => Store::Postgres {
                    url: reader
                        .required_string(
                            body,
                            inner,
                            "url",
                            "a postgres store",
                            "postgres://user@host/db",
                        )
                        .unwrap_or_default(),
                    schema: reader
                        .string(body, inner, "schema")
                        .unwrap_or_else(|| "online".into()),
                },
                "scylla" | "cassandra" => Store::Scylla {
                    nodes: reader.string_list(body, inner, "nodes"),
                    keyspace: reader
                        .required_string(body, inner, "keyspace", "a scylla store", "features")
                        .unwrap_or_default(),
                },
                other => {
                    let span = reader.key_span(scope, name);
                    reader.error("unknown-store", span, format!("unknown store type `{other}`"), Some("use redis, postgres or scylla (set `type:` when the name is not the type)".into()));
                    continue;
                }
            };
            config.stores.insert(name.to_string(), store);
        }
    }
    (config, reader.diagnostics)
}
