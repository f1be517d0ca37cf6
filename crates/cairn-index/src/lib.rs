//! Cairn's secondary indexes.
//!
//! An index is an extension of its collection (see `cairn_engine::extension`): the engine calls
//! it on every document write, inside the writing transaction, so entries commit atomically
//! with the document and a unique violation leaves no trace of the write.
//!
//! * [`keys`]: the order-preserving value encoding — the single definition of value order.
//! * [`path_values`]: what a field path reaches in a document (shared with query evaluation).
//! * [`entries`]: the entries a document contributes and their key layout.
//! * [`maintain`]: the write hook and uniqueness checks.
//! * [`build`]: online builds in sorted chunks while the collection stays in use.
//! * [`read`] and [`stats`]: what the planner sees — ranges, counts, histograms.
//! * [`admin`]: create, drop and list indexes.

pub mod admin;
pub mod build;
pub mod chunks;
pub mod decode;
pub mod entries;
mod error;
pub mod keys;
pub mod layout;
pub mod limits;
pub mod maintain;
pub mod path_values;
pub mod read;
pub mod ready;
pub mod spec;
pub mod stats;
pub mod verify;

pub use admin::{create_index, drop_index, list_indexes, resume_builds, IndexInfo, ResumedBuild};
pub use build::BuildProgress;
pub use chunks::ChunkWriter;
pub use error::{IndexError, Result};
pub use maintain::{IndexExtensionKind, INDEX_KIND};
pub use read::{indexes, IndexHandle, IndexScan};
pub use ready::ReadyFlag;
pub use spec::{IndexKind, IndexSpec};
pub use stats::IndexStats;
