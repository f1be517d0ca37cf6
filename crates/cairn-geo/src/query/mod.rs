//! The geometry model's part of the query language: the geometric operators
//! (`$withinDistance`, `$intersects`, `$within`, `$near`: [`GeoOp`], parsed and tested here)
//! and the spatial index as an access method (`access.rs`, `$near`'s search in `near.rs`).
//!
//! [`register`] hands both to the query layer; the `cairn` facade calls it before opening a
//! database, so an embedding application or the server never has to.

mod access;
mod near;
mod ops;

use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::Transaction;
use cairn_query::access::{mentions, AccessMethod, FieldOperator, QueryModel};
use cairn_query::{Filter, QueryError, Result};

pub use ops::{GeoOp, DEFAULT_DISTANCE_FIELD};

use crate::error::GeoError;
use crate::index::spatial_indexes;

/// The geometry model as the query layer sees it.
pub struct GeoModel;

impl QueryModel for GeoModel {
    fn name(&self) -> &'static str {
        "geometry"
    }

    fn parse_operator(
        &self,
        name: &str,
        operand: &Value,
        at: &str,
    ) -> Option<Result<Arc<dyn FieldOperator>>> {
        let parsed = ops::parse(name, operand, at)?;
        Some(parsed.map(|op| Arc::new(op) as Arc<dyn FieldOperator>))
    }

    fn access_methods(
        &self,
        txn: &mut Transaction,
        collection: &str,
        filter: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>> {
        // A spatial index serves geometric operators only: other queries never list them.
        if !mentions(filter, &|op| op.as_any().is::<GeoOp>()) {
            return Ok(Vec::new());
        }
        Ok(spatial_indexes(txn, collection)?
            .into_iter()
            .filter(|handle| handle.ready)
            .map(|handle| Arc::new(access::SpatialAccess { handle }) as Arc<dyn AccessMethod>)
            .collect())
    }
}

/// Registers the geometric operators and the spatial index with the query layer (idempotent).
pub fn register_query_model() {
    cairn_query::access::register(Arc::new(GeoModel));
}

impl From<GeoError> for QueryError {
    fn from(err: GeoError) -> QueryError {
        match err {
            GeoError::Engine(engine) => QueryError::Engine(engine),
            other => QueryError::Model(Box::new(other)),
        }
    }
}
