//! Answering from document keys alone: when a query keeps only `_id` and its access decides
//! the whole filter by itself, reading and re-testing each matching document is wasted work.
//!
//! Two accesses decide a filter by themselves: a spatial search with an exact per-part test
//! (`$withinDistance`, `$intersects`: a document matches when one of its parts passes, see
//! [`SpatialTest`], which is what the search already tested on the parts the index stores),
//! and a `$near` search over a spatial index (its rows are the documents at the smallest
//! exact distances over their stored parts, within the bound). The filter must then be that
//! single condition, on the index's field.

use cairn_doc::{DocId, FieldPath, Object, Value};
use cairn_engine::EngineError;

use crate::error::Result;
use crate::filter::geo::GeoOp;
use crate::filter::{Filter, Op};
use crate::plan::{Access, SpatialTest};

/// Whether `access` alone decides `filter`: every document it yields matches, and it yields
/// every match.
pub(crate) fn decides(access: &Access, filter: &Filter) -> bool {
    let Access::Spatial { handle, test, .. } = access else {
        return false;
    };
    match (only_geo_condition(filter, &handle.spec.field), test) {
        (Some(GeoOp::WithinDistance { shape, max }), SpatialTest::WithinDistance(s, m)) => {
            shape == s && max == m
        }
        (Some(GeoOp::Intersects { shape }), SpatialTest::Intersects(s)) => shape == s,
        _ => false,
    }
}

/// Whether `filter` is exactly one `$near` condition on `path` (the field of the spatial
/// index a `$near` search runs on).
pub(crate) fn is_only_near(filter: &Filter, path: &FieldPath) -> bool {
    matches!(only_geo_condition(filter, path), Some(GeoOp::Near { .. }))
}

/// The geometric operator when `filter` is that one condition on `path` and nothing else.
fn only_geo_condition<'f>(filter: &'f Filter, path: &FieldPath) -> Option<&'f GeoOp> {
    let filter = match filter {
        Filter::And(items) if items.len() == 1 => &items[0],
        other => other,
    };
    match filter {
        Filter::Field(p, ops) if p == path => match ops.as_slice() {
            [Op::Geo(op)] => Some(op),
            _ => None,
        },
        _ => None,
    }
}

/// The document `{"_id": …}` of the document stored under `key`.
pub(crate) fn id_document(key: &[u8]) -> Result<Value> {
    let id = DocId::decode_key(key).map_err(EngineError::from)?;
    let mut doc = Object::with_capacity(1);
    doc.insert("_id", id.to_value());
    Ok(Value::Object(doc))
}
