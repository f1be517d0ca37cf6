//! The tables of a secondary index and their key formats: the on-disk map of this crate, read
//! first (as `cairn-engine/src/layout.rs` is for the engine). Every table lives under the
//! index's extension prefix `c{collection}.x.{index}.`.
//!
//! - [`ENTRIES_TABLE`]: B-tree indexes `tuple ‖ doc key → ()`, or `tuple → doc key` when unique;
//!   hash indexes `xxh3(tuple) ‖ doc key → tuple`. `tuple` is the order-preserving,
//!   self-delimiting encoding of `keys.rs`, so byte order is value order; `entries::layout`
//!   builds both forms.
//! - [`META_TABLE`]: facts about the index, keyed by short names ([`READY_KEY`], [`MULTIKEY_KEY`]),
//!   values empty.

/// Table of index entries.
pub const ENTRIES_TABLE: &str = "entries";
/// Table of index facts: build state and the multikey flag.
pub const META_TABLE: &str = "meta";
/// Key in [`META_TABLE`] present once the index is complete (online build finished).
pub const READY_KEY: &[u8] = b"ready";
/// Key in [`META_TABLE`] present once any document held an array in an indexed field.
pub const MULTIKEY_KEY: &[u8] = b"multikey";
