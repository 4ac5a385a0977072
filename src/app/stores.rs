//! Opening the warehouse and the metadata store a project's `derived.yml` names.

use super::log_cache::LogCache;
use crate::metadata::duckdb::DuckDbMetadata;
use crate::metadata::postgres::PostgresMetadata;
use crate::metadata::{LogSnapshot, MetadataStore};
use crate::project::Source;
use crate::project::{MetadataConfig, Project, WarehouseConfig};
use crate::time::Duration;
use crate::warehouse::bigquery::{
    BigQueryWarehouse, Connection as BigQueryConnection, Credentials,
};
use crate::warehouse::duckdb::DuckDbWarehouse;
use crate::warehouse::postgres::PostgresWarehouse;
use crate::warehouse::Warehouse;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The warehouse and log of a project, opened for writing. The warehouse
/// opens on first use, its sources made readable then: a decision that needs
/// only the log (a run with nothing to do) never opens it.
pub struct Stores {
    warehouse: OnceLock<Box<dyn Warehouse>>,
    opener: Option<Opener>,
    pub metadata: Box<dyn MetadataStore>,
    log: LogCache,
}

/// What opening the warehouse later needs.
struct Opener {
    config: WarehouseConfig,
    root: PathBuf,
    sources: Vec<Source>,
}

impl Stores {
    /// Stores already open.
    pub fn new(warehouse: Box<dyn Warehouse>, metadata: Box<dyn MetadataStore>) -> Stores {
        Stores {
            warehouse: OnceLock::from(warehouse),
            opener: None,
            metadata,
            log: LogCache::default(),
        }
    }

    /// The warehouse, opened now if it was not yet.
    pub fn warehouse(&self) -> Result<&dyn Warehouse> {
        if let Some(warehouse) = self.warehouse.get() {
            return Ok(warehouse.as_ref());
        }
        let opener = self
            .opener
            .as_ref()
            .expect("stores without a warehouse opener are open");
        let warehouse = open_warehouse(&opener.config, false)?;
        let sources: Vec<&Source> = opener.sources.iter().collect();
        warehouse.prepare_sources(&sources, &opener.root)?;
        Ok(self.warehouse.get_or_init(|| warehouse).as_ref())
    }

    /// The log of `env` summarized for planning, read again only when the log
    /// changed since the last reading.
    pub fn log(&self, env: &str, slack: Duration) -> Result<Arc<LogSnapshot>> {
        self.log.read(self.metadata.as_ref(), env, slack)
    }
}

pub fn open_warehouse(config: &WarehouseConfig, read_only: bool) -> Result<Box<dyn Warehouse>> {
    Ok(match config {
        WarehouseConfig::DuckDb { path } if read_only => {
            Box::new(DuckDbWarehouse::open_read_only(path)?)
        }
        WarehouseConfig::DuckDb { path } => Box::new(DuckDbWarehouse::open(path)?),
        WarehouseConfig::BigQuery {
            project,
            location,
            credentials,
            endpoint,
        } => {
            let token = std::env::var("DERIVED_BQ_ACCESS_TOKEN").ok();
            let credentials = match (token, credentials) {
                (Some(token), _) => Credentials::Token(token),
                (None, Some(path)) => Credentials::KeyFile(path.clone()),
                (None, None) if endpoint.is_some() => Credentials::Token("local".into()),
                (None, None) => Credentials::ApplicationDefault,
            };
            Box::new(BigQueryWarehouse::connect(BigQueryConnection {
                project,
                location: location.as_deref(),
                endpoint: endpoint.as_deref(),
                credentials,
            })?)
        }
        WarehouseConfig::Postgres { url } => Box::new(PostgresWarehouse::connect(url)?),
    })
}

/// The metadata store of `derived.yml`; `DERIVED_METADATA_URL` (a PostgreSQL
/// URL) overrides it, so that workers can share a store without editing files.
pub fn open_metadata(config: &MetadataConfig) -> Result<Box<dyn MetadataStore>> {
    if let Ok(url) = std::env::var("DERIVED_METADATA_URL") {
        let schema = match config {
            MetadataConfig::Postgres { schema, .. } => schema.as_str(),
            MetadataConfig::DuckDb { .. } => "derived",
        };
        return Ok(Box::new(PostgresMetadata::connect(&url, schema)?));
    }
    Ok(match config {
        MetadataConfig::DuckDb { path } => Box::new(DuckDbMetadata::open(path)?),
        MetadataConfig::Postgres { url, schema } => {
            Box::new(PostgresMetadata::connect(url, schema)?)
        }
    })
}

pub fn open_stores(project: &Project) -> Result<Stores> {
    let metadata = open_metadata(&project.config.metadata)?;
    Ok(stores_with(project, metadata))
}

/// The project's stores, its metadata store already open and its warehouse
/// to open on first use.
pub fn stores_with(project: &Project, metadata: Box<dyn MetadataStore>) -> Stores {
    let store = std::env::var("DERIVED_METADATA_URL")
        .unwrap_or_else(|_| format!("{:?}", project.config.metadata));
    Stores {
        warehouse: OnceLock::new(),
        opener: Some(Opener {
            config: project.config.warehouse.clone(),
            root: project.root.clone(),
            sources: project.sources().cloned().collect(),
        }),
        metadata,
        log: LogCache::on_disk(&super::cache::folder(&project.root), store),
    }
}

/// Whether opening the metadata store of `config` leaves nothing behind to
/// regret if the project turns out invalid: an existing DuckDB file.
pub fn opens_without_side_effects(config: &MetadataConfig) -> bool {
    std::env::var_os("DERIVED_METADATA_URL").is_none()
        && matches!(config, MetadataConfig::DuckDb { path } if path.exists())
}
