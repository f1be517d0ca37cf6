//! Cairn's document model: what a document *is*, independent of where it is stored.
//!
//! This crate owns the [`Value`] tree, its compact binary encoding ([`encode_document`],
//! [`decode_record`]; the format's spec is `format.rs`), its JSON mapping
//! ([`Value::from_json_str`], [`Value::to_json_string`]; the mapping is in `json.rs`),
//! document ids and their byte-ordered storage keys ([`DocId`]), dotted field paths
//! ([`FieldPath`]) and update operators ([`Patch`]).
//!
//! It knows nothing about storage, collections or transactions: it turns values into bytes and
//! back, and checks that a document obeys the rules every layer above relies on:
//!
//! - the root is an object;
//! - field names are non-empty, contain no `.` and do not start with `$` ([`check_field_name`]);
//! - floats and vector components are finite; dates lie in years 0000..=9999;
//! - nesting, encoded size and vector dimensions stay within the constants in [`limits`].
//!
//! Encoding and JSON parsing enforce these rules, and decoding rejects bytes that break them, so a
//! `Value` that came out of this crate's parsers is always a valid document (or part of one).
//!
//! Surface: the items re-exported below and one public namespace, [`limits`] (the bounds every
//! layer above relies on, so callers can quote them); every other module is private.
//!
//! Vectors decoded from a [`RecordBuf`] read their floats in place (zero copy); see [`Vector`].
//!
//! ```
//! use cairn_doc::{decode_record, encode_document, DocId, Patch, RecordBuf, Value};
//!
//! let mut doc = Value::from_json_str(r#"{"name": "Ada", "visits": 1, "emb": {"$vector": [0.5, 1]}}"#)?;
//! Patch::from_json_str(r#"{"$inc": {"visits": 1}, "$set": {"address.city": "London"}}"#)?
//!     .apply(&mut doc)?;
//!
//! let mut bytes = Vec::new();
//! encode_document(&doc, &mut bytes)?;
//! let stored = RecordBuf::copy_from(&bytes);
//! let read = decode_record(&stored)?;
//! assert_eq!(read, doc);
//! let emb = read.as_object().and_then(|o| o.get("emb")).and_then(Value::as_vector);
//! assert_eq!(emb.map(|v| v.as_slice()), Some(&[0.5f32, 1.0][..]));
//!
//! let key = DocId::parse_cli("42").to_key()?;
//! assert_eq!(DocId::decode_key(&key)?, DocId::Int(42));
//! # Ok::<(), cairn_doc::DocError>(())
//! ```

mod datetime;
mod decode;
mod encode;
mod equality;
mod error;
mod field_name;
mod format;
mod geometry;
mod id;
mod json;
pub mod limits;
mod object;
mod patch;
mod path;
mod record_buf;
mod value;
mod varint;
mod vector;

pub use datetime::DateTime;
pub use decode::{decode_document, decode_fields, decode_record};
pub use encode::{check_document, encode_document, encoded_len};
pub use equality::values_equal;
pub use error::DocError;
pub use field_name::check_field_name;
pub use format::ENCODING_VERSION;
pub use geometry::{Geometry, GeometryDefect, Mesh, Point3};
pub use id::DocId;
pub use json::JsonExpression;
pub use object::Object;
pub use patch::{Patch, PatchOp};
pub use path::FieldPath;
pub use record_buf::RecordBuf;
pub use value::Value;
pub use vector::Vector;
