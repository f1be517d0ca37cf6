//! Cairn's secondary indexes.
//!
//! An index is an extension of its collection (see `cairn_engine::extension`): the engine calls
//! it on every document write, inside the writing transaction, so entries commit atomically
//! with the document and a unique violation leaves no trace of the write.
//!
//! * [`keys`]: the order-preserving value encoding — the single definition of value order.
//! * [`path_values`]: what a field path reaches in a document (shared with query evaluation).
//! * `entries.rs`: the entries a document contributes and their key layout.
//! * `maintain.rs`: the write hook and uniqueness checks.
//! * `build.rs`: online builds in sorted chunks while the collection stays in use.
//! * `read.rs` and `stats.rs`: what the planner sees — ranges, counts, histograms.
//! * `admin.rs`: create, drop and list indexes.
//!
//! # Surface
//!
//! The items re-exported below, plus three public namespaces: [`keys`] and [`path_values`]
//! (the value order and path reach the query layer, schemas and other index kinds must share
//! with these indexes, so they are one definition used everywhere) and [`limits`] (the named
//! bounds, so callers can quote them). Every other module is private.

mod admin;
mod build;
mod chunks;
mod decode;
mod entries;
mod error;
pub mod keys;
mod layout;
pub mod limits;
mod maintain;
pub mod path_values;
mod read;
mod ready;
mod spec;
mod stats;
mod verify;

pub use admin::{create_index, drop_index, list_indexes, resume_builds, IndexInfo, ResumedBuild};
pub use build::{expected_keys, BuildProgress};
pub use chunks::ChunkWriter;
pub use entries::hash_tuple;
pub use error::{IndexError, Result};
pub use layout::ENTRIES_TABLE;
pub use maintain::{IndexExtensionKind, INDEX_KIND};
pub use read::{indexes, IndexHandle, IndexScan};
pub use ready::ReadyFlag;
pub use spec::{IndexKind, IndexSpec};
pub use stats::IndexStats;
pub use verify::verify_index;
