//! Each source as a DataFusion catalog: `source.schema.table`.
//!
//! Catalog and schema listings (`information_schema`, psql's `\dt`) come from the source's
//! last health check; a table named in a statement is looked up at the source when the
//! statement is planned, so a table created there is queryable at once, and a source that is
//! down fails that statement — and only statements that name it — with an error naming it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::Result as DfResult;

use super::remote::{into_datafusion, Dialect, RemoteTable};
use super::{files, postgres, sqlite, SourceError, SourceHandle, SourceKind, SourceRegistry};
use crate::txn::{authorize, Authorizer};

/// The catalog of the source `name` (looked up in the registry on each use: a source removed
/// since the session registered its catalog answers "unknown source").
pub struct SourceCatalog {
    name: String,
    registry: Arc<SourceRegistry>,
    authorizer: Option<Arc<dyn Authorizer>>,
    pushdown: Arc<AtomicBool>,
}

impl std::fmt::Debug for SourceCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SourceCatalog({})", self.name)
    }
}

impl SourceCatalog {
    /// The catalog of source `name`, read as `authorizer` allows; `pushdown` switches
    /// filter pushdown to the source on and off.
    pub fn new(
        name: String,
        registry: Arc<SourceRegistry>,
        authorizer: Option<Arc<dyn Authorizer>>,
        pushdown: Arc<AtomicBool>,
    ) -> SourceCatalog {
        SourceCatalog {
            name,
            registry,
            authorizer,
            pushdown,
        }
    }
}

/// The schema names of a source, from its last health check.
fn schema_names(handle: &SourceHandle) -> Vec<String> {
    match handle.def.kind {
        SourceKind::Sqlite => vec![sqlite::SCHEMA.to_string()],
        SourceKind::Csv | SourceKind::Json | SourceKind::Parquet => {
            vec![files::SCHEMA.to_string()]
        }
        SourceKind::Postgres => {
            let mut names: Vec<String> = handle
                .health
                .lock()
                .as_ref()
                .map(|h| h.tables.iter().map(|(s, _)| s.clone()).collect())
                .unwrap_or_default();
            names.dedup();
            if names.is_empty() {
                names.push("public".to_string());
            }
            names
        }
    }
}

impl CatalogProvider for SourceCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.registry
            .handle(&self.name)
            .map(|h| schema_names(&h))
            .unwrap_or_default()
    }

    fn schema(&self, schema: &str) -> Option<Arc<dyn SchemaProvider>> {
        let handle = self.registry.handle(&self.name)?;
        let known = match handle.def.kind {
            // PostgreSQL schemas are checked when a table is looked up.
            SourceKind::Postgres => true,
            _ => schema_names(&handle).iter().any(|s| s == schema),
        };
        known.then(|| {
            Arc::new(SourceSchema {
                source: self.name.clone(),
                schema: schema.to_string(),
                registry: self.registry.clone(),
                authorizer: self.authorizer.clone(),
                pushdown: self.pushdown.clone(),
            }) as _
        })
    }
}

/// One schema of a source.
pub struct SourceSchema {
    source: String,
    schema: String,
    registry: Arc<SourceRegistry>,
    authorizer: Option<Arc<dyn Authorizer>>,
    pushdown: Arc<AtomicBool>,
}

impl std::fmt::Debug for SourceSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SourceSchema({}.{})", self.source, self.schema)
    }
}

impl SourceSchema {
    fn handle(&self) -> Result<Arc<SourceHandle>, SourceError> {
        self.registry
            .handle(&self.source)
            .ok_or_else(|| SourceError::Unknown {
                name: self.source.clone(),
            })
    }

    async fn resolve(&self, table: &str) -> Result<Option<Arc<dyn TableProvider>>, SourceError> {
        let handle = self.handle()?;
        let pushdown = self.pushdown.load(Ordering::Relaxed);
        let (dialect, columns) = match handle.def.kind {
            SourceKind::Postgres => (
                Dialect::Postgres,
                postgres::columns(&handle, &self.schema, table).await?,
            ),
            SourceKind::Sqlite => {
                let owned = handle.clone();
                let name = table.to_string();
                let columns = tokio::task::spawn_blocking(move || sqlite::columns(&owned, &name))
                    .await
                    .map_err(|e| handle.def.unavailable(e))??;
                (Dialect::Sqlite, columns)
            }
            SourceKind::Csv | SourceKind::Json | SourceKind::Parquet => {
                if files::table_name(&handle.def) != table {
                    return Ok(None);
                }
                return Ok(Some(files::table(&handle.def).await?));
            }
        };
        if columns.is_empty() {
            return Ok(None);
        }
        let schema = (dialect == Dialect::Postgres).then_some(self.schema.as_str());
        Ok(Some(Arc::new(RemoteTable::new(
            handle, dialect, schema, table, columns, pushdown,
        ))))
    }
}

#[async_trait]
impl SchemaProvider for SourceSchema {
    fn table_names(&self) -> Vec<String> {
        let Ok(handle) = self.handle() else {
            return Vec::new();
        };
        let health = handle.health.lock();
        health
            .as_ref()
            .map(|h| {
                h.tables
                    .iter()
                    .filter(|(s, _)| *s == self.schema)
                    .map(|(_, t)| t.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let qualified = format!("{}.{}.{}", self.source, self.schema, name);
        authorize(self.authorizer.as_ref(), &qualified, false)
            .map_err(crate::SqlError::into_datafusion)?;
        self.resolve(name).await.map_err(into_datafusion)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.table_names().iter().any(|t| t == name)
    }
}

/// Registers a catalog for every source of `registry` that `ctx` does not have yet.
pub fn register_all(
    ctx: &datafusion::prelude::SessionContext,
    registry: &Arc<SourceRegistry>,
    authorizer: Option<&Arc<dyn Authorizer>>,
    pushdown: &Arc<AtomicBool>,
) {
    let known = ctx.catalog_names();
    for handle in registry.handles() {
        if !known.contains(&handle.def.name) {
            ctx.register_catalog(
                handle.def.name.clone(),
                Arc::new(SourceCatalog::new(
                    handle.def.name.clone(),
                    registry.clone(),
                    authorizer.cloned(),
                    pushdown.clone(),
                )),
            );
        }
    }
}
