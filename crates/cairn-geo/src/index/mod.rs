//! The spatial index: an extension kind (`spatial`) whose entries are the parts of every
//! geometry a field holds (a mesh's triangles one by one), placed in a multi-level loose
//! grid keyed along a Morton curve (`grid.rs`), each entry holding the part itself so a
//! query can test it exactly without fetching its document (`entries.rs`).
//!
//! Maintained by the engine's write hook in the same commit as the documents
//! (`maintain.rs`), each such commit also writing a fresh content stamp (`stamp.rs`);
//! persistent in the extension's tables, so opening a database reads nothing; built online
//! (`build.rs`); read by the query layer through [`SpatialHandle`]: read-only snapshots of a
//! content queried often from its resident image (an R-tree in memory, `resident/`, loaded
//! in the background: `residency.rs`), before that through a process-wide cache of decoded
//! buckets keyed by the stamp (`bucket.rs`, `cache.rs`, `cached_read.rs`); other
//! transactions with one guided scan (`read.rs`).

pub(crate) mod admin;
pub(crate) mod bucket;
mod build;
pub(crate) mod cache;
mod cached_read;
pub(crate) mod entries;
mod entries_table;
pub(crate) mod grid;
pub(crate) mod layout;
pub(crate) mod limits;
pub(crate) mod maintain;
pub(crate) mod page_cache;
pub(crate) mod pages;
pub(crate) mod read;
pub(crate) mod residency;
pub(crate) mod resident;
pub(crate) mod spec;
pub(crate) mod stamp;

pub use admin::{
    create_spatial_index, drop_spatial_index, expected_entries, list_spatial_indexes,
    make_resident, stored_entries, verify_spatial, SpatialInfo,
};
pub use cache::{cache_bytes, clear_cache, MAX_CACHE_BYTES};
pub use entries::encode_primitive;
pub use limits::MAX_PAGE_CACHE_BYTES;
pub use maintain::{SpatialExtensionKind, SPATIAL_KIND};
pub use page_cache::{global as page_cache, PageCache};
pub use read::{spatial_indexes, NearestQuery, SearchStats, SpatialHandle, Visit};
pub use residency::{resident_bytes, MAX_RESIDENT_BYTES, RESIDENT_AFTER_SEARCHES};
pub use spec::SpatialSpec;
