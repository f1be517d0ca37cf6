//! The vector model's part of the query language: the `$nearVector` operator (`ops.rs`) and
//! the vector index as an access method that ranks by it (`access.rs`).
//!
//! [`register`] hands both to the query layer; the `cairn` facade calls it before opening a
//! database, so an embedding application or the server never has to.

mod access;
mod choice;
mod ops;

use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::Transaction;
use cairn_query::access::{AccessMethod, FieldOperator, QueryModel};
use cairn_query::{Filter, Op, QueryError, Result};

pub use ops::{NearVector, DEFAULT_DISTANCE_FIELD};

use crate::error::VectorError;
use crate::layout::{META_TABLE, READY_KEY};
use crate::maintain::{VectorExtension, VECTOR_KIND};
use crate::spec::VectorSpec;

/// The vector model as the query layer sees it.
pub struct VectorModel;

impl QueryModel for VectorModel {
    fn name(&self) -> &'static str {
        "vector"
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

    /// The ready vector indexes of the collection, when the filter has a `$nearVector`.
    /// A `$nearVector` without a `metric` needs one on its field (the metric is the index's):
    /// without it the query is refused rather than ranked by a guessed metric.
    fn access_methods(
        &self,
        txn: &mut Transaction,
        collection: &str,
        filter: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>> {
        let mut wanted = Vec::new();
        near_vectors(filter, &mut wanted);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let indexes = ready_indexes(txn, collection)?;
        for (path, op) in wanted {
            if op.metric.is_none() && !indexes.iter().any(|spec| spec.field == path) {
                return Err(QueryError::invalid(
                    path.to_string(),
                    format!(
                        "`$nearVector` on `{path}` needs a ready vector index on that field, \
                         or a `metric` for an exact scan"
                    ),
                ));
            }
        }
        Ok(indexes
            .into_iter()
            .map(|spec| Arc::new(access::VectorAccess { spec }) as Arc<dyn AccessMethod>)
            .collect())
    }
}

/// The `$nearVector` conditions of a filter, with their fields.
fn near_vectors(filter: &Filter, out: &mut Vec<(cairn_doc::FieldPath, NearVector)>) {
    match filter {
        Filter::All => {}
        Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) => {
            parts.iter().for_each(|part| near_vectors(part, out));
        }
        Filter::Field(path, ops) => {
            for op in ops {
                if let Op::Registered(op) = op {
                    if let Some(near) = op.as_any().downcast_ref::<NearVector>() {
                        out.push((path.clone(), near.clone()));
                    }
                }
            }
        }
    }
}

/// The collection's vector indexes whose build finished, as `txn` sees them.
fn ready_indexes(txn: &mut Transaction, collection: &str) -> crate::Result<Vec<VectorSpec>> {
    let meta = txn.collection_meta(collection)?;
    let mut out = Vec::new();
    for ext in meta.extensions.iter().filter(|e| e.kind == VECTOR_KIND) {
        let ready = txn
            .extension_get(collection, &ext.name, META_TABLE, READY_KEY)?
            .is_some();
        if !ready {
            continue;
        }
        let instance = txn.extension_instance(collection, &ext.name)?;
        if let Some(ext) = instance
            .as_ref()
            .and_then(|ext| ext.as_any().downcast_ref::<VectorExtension>())
        {
            out.push(ext.spec().clone());
        }
    }
    Ok(out)
}

/// Registers `$nearVector` and the vector index with the query layer (idempotent).
pub fn register_query_model() {
    cairn_query::access::register(Arc::new(VectorModel));
}

impl From<VectorError> for QueryError {
    fn from(err: VectorError) -> QueryError {
        match err {
            VectorError::Engine(engine) => QueryError::Engine(engine),
            other => QueryError::Model(Box::new(other)),
        }
    }
}
