//! Schema inference for schemaless collections: which fields documents have, with which types,
//! how often — kept incrementally and exactly, and emitted as a schema document to enforce.
//!
//! How it is kept: by tailing the change log, not on the write path. The statistics and the
//! sequence number they are current to live in one document of the system collection
//! [`INFERENCE_COLLECTION`] and are updated together in one transaction ([`catch_up`]), which applies
//! every change to the collection since that number (inserts add a document's shape, deletes
//! subtract it, updates do both). Writers never read or write that key, so inference adds no
//! conflicts and no work to any write; the cost is paid by whoever reads the statistics and is
//! proportional to the changes since the last read. If retention trimmed the log past the
//! stored number, the statistics are rebuilt from one snapshot scan.
//!
//! Every document contributes a *set* of (path, type) facts (see [`shape`]), so adding and
//! subtracting are exact inverses and the counts always equal a full scan.
//!
//! Layering: depends on `cairn-doc` and `cairn-engine` only.

mod emit;
mod error;
pub mod limits;
pub mod shape;
mod stats;
mod tail;

pub use emit::emit_schema;
pub use error::{InferError, Result};
pub use stats::{FieldStats, InferredSchema};
pub use tail::{catch_up, disable_inference, infer_schema, INFERENCE_COLLECTION};
