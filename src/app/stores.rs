//! Opening the warehouse and the metadata store a project's `derived.yml` names.

use crate::metadata::duckdb::DuckDbMetadata;
use crate::metadata::postgres::PostgresMetadata;
use crate::metadata::MetadataStore;
use crate::project::{MetadataConfig, Project, WarehouseConfig};
use crate::warehouse::bigquery::{
    BigQueryWarehouse, Connection as BigQueryConnection, Credentials,
};
use crate::warehouse::duckdb::DuckDbWarehouse;
use crate::warehouse::postgres::PostgresWarehouse;
use crate::warehouse::Warehouse;
use anyhow::Result;

/// The warehouse and log of a project, opened for writing.
pub struct Stores {
    pub warehouse: Box<dyn Warehouse>,
    pub metadata: Box<dyn MetadataStore>,
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
    let warehouse = open_warehouse(&project.config.warehouse, false)?;
    let metadata = open_metadata(&project.config.metadata)?;
    Ok(Stores {
        warehouse,
        metadata,
    })
}
