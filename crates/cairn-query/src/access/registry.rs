//! The registered query models: the built-in B-tree/hash model first, then what
//! [`register`] added (the `cairn` facade registers the geometry model before any database
//! opens).
//!
//! Process-wide rather than per database: a filter is parsed before (and independently of)
//! the database it runs on (`Filter::parse` takes JSON alone), and the operators a build of
//! Cairn understands do not differ between its databases.

use std::sync::{Arc, PoisonError, RwLock};

use cairn_doc::Value;
use cairn_engine::Transaction;

use super::{btree::SecondaryIndexes, AccessMethod, DocumentSource, FieldOperator, QueryModel};
use crate::error::Result;
use crate::filter::Filter;

/// A list of models, shared.
type Models = Arc<Vec<Arc<dyn QueryModel>>>;

/// The registered models (an `Arc` swapped on registration, so a query clones one pointer).
static MODELS: RwLock<Option<Models>> = RwLock::new(None);

fn models() -> Models {
    if let Some(models) = MODELS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        return models.clone();
    }
    let mut slot = MODELS.write().unwrap_or_else(PoisonError::into_inner);
    slot.get_or_insert_with(|| Arc::new(vec![Arc::new(SecondaryIndexes) as Arc<dyn QueryModel>]))
        .clone()
}

/// Registers `model` for every query of this process; a model of the same name registered
/// before stays (registration is idempotent).
pub fn register(model: Arc<dyn QueryModel>) {
    let current = models();
    if current.iter().any(|m| m.name() == model.name()) {
        return;
    }
    let mut slot = MODELS.write().unwrap_or_else(PoisonError::into_inner);
    let mut next: Vec<Arc<dyn QueryModel>> = slot.as_deref().cloned().unwrap_or_default();
    if next.iter().any(|m| m.name() == model.name()) {
        return;
    }
    next.push(model);
    *slot = Some(Arc::new(next));
}

/// Parses operator `name` with the first registered model that defines it; `None` when none
/// does.
pub fn parse_operator(
    name: &str,
    operand: &Value,
    at: &str,
) -> Option<Result<Arc<dyn FieldOperator>>> {
    models()
        .iter()
        .find_map(|model| model.parse_operator(name, operand, at))
}

/// Every registered model's usable indexes on `collection` for a query with `filter`; none
/// for a collection whose documents come from a model's [`source`] (an index there would
/// describe stored documents the collection does not have).
pub fn access_methods(
    txn: &mut Transaction,
    collection: &str,
    filter: &Filter,
) -> Result<Vec<Arc<dyn AccessMethod>>> {
    if source(txn, collection)?.is_some() {
        return Ok(Vec::new());
    }
    let mut methods = Vec::new();
    for model in models().iter() {
        methods.extend(model.access_methods(txn, collection, filter)?);
    }
    Ok(methods)
}

/// The first registered model's [`DocumentSource`] for `collection`, if one keeps its
/// documents (see [`QueryModel::source`]).
pub fn source(txn: &mut Transaction, collection: &str) -> Result<Option<Arc<dyn DocumentSource>>> {
    for model in models().iter() {
        if let Some(source) = model.source(txn, collection)? {
            return Ok(Some(source));
        }
    }
    Ok(None)
}
