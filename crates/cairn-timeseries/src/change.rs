//! What a logged write of a time-series table says, for change-log readers (change streams).
//!
//! The change log carries each commit's net writes to the time-series tables as raw
//! `ChangeOp::ExtensionWrite` records (see `collection.rs`); this turns a chunk write into
//! points a subscriber can read without knowing the chunk format.

use cairn_doc::{Object, Value};

use crate::chunk;
use crate::error::Result;
use crate::layout::{parse_chunk_key, CHUNKS_TABLE};

/// Describes a logged write of a time-series table: for a chunk,
/// `{"series_id", "chunk_start", "points": [{"time", ...values}]}` (the chunk's whole content
/// after the commit; `points` is null when the chunk was deleted). The series id is the one
/// the collection's `series` table maps the series key to. `None` for the other tables (series
/// ids and latest points: bookkeeping that follows from the chunks). A chunk that does not
/// decode is [`crate::TsError::Corrupt`].
pub fn describe_write(table: &str, key: &[u8], value: Option<&[u8]>) -> Result<Option<Value>> {
    if table != CHUNKS_TABLE {
        return Ok(None);
    }
    let (series_id, chunk_start) = parse_chunk_key(key)?;
    let mut object = Object::new();
    object.insert("series_id", Value::Int(i64::from(series_id)));
    object.insert("chunk_start", Value::Int(chunk_start));
    let points = match value {
        Some(bytes) => {
            let (_, points) = chunk::decode(bytes)?;
            let points = points
                .iter()
                .map(|point| {
                    let mut doc = Object::with_capacity(point.fields.len() + 1);
                    doc.insert("time", Value::Int(point.time));
                    for (name, sample) in &point.fields {
                        doc.insert(name.as_str(), sample.to_value());
                    }
                    Value::Object(doc)
                })
                .collect();
            Value::Array(points)
        }
        None => Value::Null,
    };
    object.insert("points", points);
    Ok(Some(Value::Object(object)))
}
