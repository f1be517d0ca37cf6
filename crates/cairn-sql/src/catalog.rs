//! The database as DataFusion's catalog: catalog `cairn`, schema `public`, one table per
//! collection (system collections, `_sys_*`, are not tables).
//!
//! Tables are resolved when a statement is planned, so a collection created (by SQL, HTTP or
//! the CLI) is a table at the next statement, and its columns follow its schema as it is then.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use cairn::{is_system_collection, Database};
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result as DfResult};

use crate::error::{Result, SqlError};
use crate::provider::CairnTable;
use crate::txn::{authorize, Authorizer};
use crate::types::TableShape;

/// The catalog name (what psql's `\l` lists as the database).
pub const CATALOG: &str = "cairn";
/// The schema every collection is in.
pub const SCHEMA: &str = "public";

/// The columns of `collection`: from its declared schema, else from its inferred one.
pub fn shape_of(db: &Database, collection: &str) -> Result<TableShape> {
    if let Some(info) = cairn::schema::schema_of(db, collection)? {
        let schema = cairn::schema::Schema::from_value(&info.source)?;
        return Ok(TableShape::from_declared(&schema.root));
    }
    let inferred = cairn::infer::infer_schema(db, collection)?;
    Ok(TableShape::from_inferred(&cairn::infer::emit_schema(
        &inferred,
    )))
}

/// The names of the collections that are tables.
pub fn table_names(db: &Database) -> Result<Vec<String>> {
    Ok(db
        .list_collections()?
        .into_iter()
        .map(|meta| meta.name)
        .filter(|name| !is_system_collection(name))
        .collect())
}

/// The `cairn` catalog.
#[derive(Clone)]
pub struct CairnCatalog {
    db: Database,
    authorizer: Option<Arc<dyn Authorizer>>,
    pushdown: Arc<AtomicBool>,
}

impl std::fmt::Debug for CairnCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CairnCatalog")
    }
}

impl CairnCatalog {
    /// The catalog of `db`, as `authorizer` (if any) lets its user see it.
    /// `pushdown` switches filter pushdown into Cairn on and off (tests compare answers
    /// both ways).
    pub fn new(
        db: Database,
        authorizer: Option<Arc<dyn Authorizer>>,
        pushdown: Arc<AtomicBool>,
    ) -> CairnCatalog {
        CairnCatalog {
            db,
            authorizer,
            pushdown,
        }
    }
}

impl CatalogProvider for CairnCatalog {
    fn schema_names(&self) -> Vec<String> {
        vec![SCHEMA.to_string()]
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        (name == SCHEMA).then(|| {
            Arc::new(CairnSchema {
                db: self.db.clone(),
                authorizer: self.authorizer.clone(),
                pushdown: self.pushdown.clone(),
            }) as _
        })
    }
}

/// The `public` schema: the collections.
pub struct CairnSchema {
    db: Database,
    authorizer: Option<Arc<dyn Authorizer>>,
    pushdown: Arc<AtomicBool>,
}

impl std::fmt::Debug for CairnSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CairnSchema")
    }
}

#[async_trait]
impl SchemaProvider for CairnSchema {
    fn table_names(&self) -> Vec<String> {
        table_names(&self.db)
            .unwrap_or_default()
            .into_iter()
            .filter(|name| authorize(self.authorizer.as_ref(), name, false).is_ok())
            .collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if is_system_collection(name) {
            return Ok(None);
        }
        authorize(self.authorizer.as_ref(), name, false).map_err(SqlError::into_datafusion)?;
        let db = self.db.clone();
        let owned = name.to_string();
        // Inference may catch up with the change log (reads, and a small commit): off the
        // async workers.
        let shape = tokio::task::spawn_blocking(move || shape_of(&db, &owned))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        match shape {
            Ok(shape) => {
                let mut table = CairnTable::new(name.to_string(), shape, self.authorizer.clone());
                if !self.pushdown.load(Ordering::Relaxed) {
                    table = table.without_pushdown();
                }
                Ok(Some(Arc::new(table)))
            }
            Err(SqlError::Engine(cairn::EngineError::UnknownCollection { .. })) => Ok(None),
            Err(SqlError::Schema(cairn::schema::SchemaError::Engine(
                cairn::EngineError::UnknownCollection { .. },
            ))) => Ok(None),
            Err(SqlError::Infer(cairn::infer::InferError::Engine(
                cairn::EngineError::UnknownCollection { .. },
            ))) => Ok(None),
            Err(err) => Err(err.into_datafusion()),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        !is_system_collection(name)
            && table_names(&self.db).is_ok_and(|names| names.iter().any(|n| n == name))
    }
}
