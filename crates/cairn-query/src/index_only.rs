//! Answering from document keys alone: when a query keeps only `_id` and its access decides
//! the whole filter by itself (an index path whose [`crate::access::IndexPath::decides`]
//! holds, or a ranking access method when the filter is the ranking condition alone),
//! reading and re-testing each matching document is wasted work.

use cairn_doc::{DocId, Object, Value};
use cairn_engine::EngineError;

use crate::error::Result;

/// The document `{"_id": …}` of the document stored under `key`.
pub(crate) fn id_document(key: &[u8]) -> Result<Value> {
    let id = DocId::decode_key(key).map_err(EngineError::from)?;
    let mut doc = Object::with_capacity(1);
    doc.insert("_id", id.to_value());
    Ok(Value::Object(doc))
}
