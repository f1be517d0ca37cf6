//! The tables of a spatial index and their key formats: the on-disk map of the index, read
//! first. Every table lives under the index's extension prefix `c{collection}.x.{index}.`.
//!
//! - [`PAGES_TABLE`]: runs of consecutive entries packed into pages (`pages.rs`), keyed by the
//!   page's upper bound; a logical entry is `level ‖ morton(cell) ‖ doc key ‖ part → the part`
//!   (`grid.rs`, `entries.rs`).
//! - [`META_TABLE`]: facts about the index: [`READY_KEY`] (empty, once the build finished) and
//!   [`STAMP_KEY`] (8 bytes big-endian, the content stamp of `stamp.rs`).

/// Table of facts about the index: build state, content stamp (`stamp.rs`).
pub const META_TABLE: &str = "meta";
/// Key in [`META_TABLE`] present once the index is complete (online build finished).
pub const READY_KEY: &[u8] = b"ready";
/// Key in [`META_TABLE`] of the stamp.
pub const STAMP_KEY: &[u8] = b"stamp";
/// The table of entry pages.
pub const PAGES_TABLE: &str = "pages";
