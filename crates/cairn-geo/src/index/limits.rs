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

/// Most bytes cached pages may occupy together. The benchmark's whole index (1,000,000
/// triangles) is about 110 MiB of pages.
pub const MAX_PAGE_CACHE_BYTES: usize = 256 << 20;

/// Most index contents (stamps) whose pages the page cache keeps at once.
pub const MAX_PAGE_CACHE_STAMPS: usize = 8;

/// Widest aligned block (`2^N` cells per axis) a distance search jumps over at once when the
/// block lies wholly outside its ball; wider blocks are rare and cost more tests to find.
pub const MAX_SKIPPED_BLOCK_SHIFT: u32 = 12;

/// Finest bucket: 2 cells per axis.
pub const MIN_BUCKET_SHIFT: u32 = 1;

/// Coarsest bucket: the whole level.
pub const MAX_BUCKET_SHIFT: u32 = crate::index::grid::CELL_BITS;

/// Most buckets one query reads from the cache at one level; past it that level is read with
/// the guided scan. 512 buckets of the benchmark's density are about 15,000 entries, already
/// more than the guided scan reads for such a box.
pub const MAX_BUCKETS_PER_LEVEL: u128 = 512;

/// Most bytes the decoded buckets of all indexes may occupy together. The benchmark's whole
/// index (1,000,000 triangles) takes about 110 MiB decoded; twice that leaves room for a
/// second index or for stale stamps awaiting eviction.
pub const MAX_CACHE_BYTES: usize = 256 << 20;

/// Shards of the bucket cache (`cache.rs`): independent locks and byte budgets.
pub const SHARDS: usize = 16;

/// Largest bucket kept: one shard's share of the budget. A larger one (a dense overflow
/// level, say) is read from the snapshot by each query instead. Also keeps every offset
/// into a bucket's key buffer far inside a `u32`.
pub const MAX_BUCKET_BYTES: usize = MAX_CACHE_BYTES / SHARDS;

/// Most stamps whose level lists are kept (a list is a few bytes; the map is cleared when
/// full and refilled by the next queries).
pub const MAX_CACHED_STAMPS: usize = 1024;

/// Most bytes resident images occupy together. An image costs 128 bytes per part (the entry
/// of `resident/entry.rs`: box, inline key and part in two cache lines) plus 24 per inner box
/// (one per eight children), so the benchmark's million triangles take about 125 MiB and four
/// such images fit.
pub const MAX_RESIDENT_BYTES: usize = 512 << 20;

/// Most resident images kept at once.
pub const MAX_RESIDENT_IMAGES: usize = 4;

/// Most contents whose searches are being counted towards a load (the oldest count is
/// forgotten past it).
pub const MAX_COUNTED_STAMPS: usize = 64;

/// A page grown past this many bytes is split. Large enough that most of a query's jumps
/// stay inside the page it is in (~75 of the benchmark's triangle entries), small enough that
/// a write's read-modify-write is a memcpy of a few KiB. Measured at full scale against 2 KiB:
/// fewer descents per query, and the index 158 MiB instead of 197 (redb stores large values
/// with less slack).
pub const MAX_PAGE_BYTES: usize = 8192;

/// Longest entry key a page holds (a document key is far shorter; see `cairn_doc` limits).
pub const MAX_ENTRY_KEY_BYTES: usize = u16::MAX as usize;

/// Longest entry value (an encoded part is at most 73 bytes).
pub const MAX_ENTRY_VALUE_BYTES: usize = u8::MAX as usize;

/// Largest `want` the nearest search's `WithinBound` tracks (its updates scan its documents); a larger one
/// walks unbounded.
pub(crate) const MAX_BOUNDED_WANT: usize = 256;
