//! Every bound the spatial index enforces.

/// Most parts (triangles, or one per other shape) one document may contribute to one spatial
/// index. A maximal mesh (`cairn_doc::limits::MAX_MESH_TRIANGLES`) fits, twice; more would make
/// a single write rewrite an unbounded number of index pages.
pub const MAX_PARTS_PER_DOCUMENT: usize = 2 * cairn_doc::limits::MAX_MESH_TRIANGLES;

/// Entries written per transaction by an online build: large enough that a build is a few
/// dozen commits for a million parts, well inside the engine's `MAX_TXN_OPS`.
pub const BUILD_CHUNK_ENTRIES: usize = 50_000;

/// Most spatial indexes on one collection.
pub const MAX_SPATIAL_INDEXES_PER_COLLECTION: usize = 8;
