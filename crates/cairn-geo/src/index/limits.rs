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
/// Candidate parts the query planner's probe of a spatial index reads before it settles for a rough
/// estimate. The probe is the search itself and the executor reuses a complete one, so a
/// generous cap costs nothing when the index is chosen; 16,384 parts is a few milliseconds.
pub const SPATIAL_PROBE_CAP: u64 = 16_384;
/// Mismatches `cairn check` lists per spatial index; the rest are counted in one line.
pub const MAX_VERIFY_FINDINGS: usize = 100;
