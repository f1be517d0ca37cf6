//! Limits of the index layer. Each bounds something that would otherwise grow with input.

/// Fields in one (composite) index.
pub const MAX_INDEX_FIELDS: usize = 8;

/// Values one field path may reach in a document (fan-out over nested arrays).
pub const MAX_PATH_FANOUT: usize = 10_000;

/// Index entries one document may produce (the product of its multikey fields' element
/// counts). A write exceeding it fails instead of writing an unbounded number of keys.
pub const MAX_ENTRIES_PER_DOCUMENT: usize = 10_000;

/// Bytes of one encoded index key (the tuple of field values). Longer keys are refused, as
/// a huge key would make every page of the index tree hold one entry.
pub const MAX_INDEX_KEY_BYTES: usize = 4 * 1024;

/// Secondary indexes per collection.
pub const MAX_INDEXES_PER_COLLECTION: usize = 32;

/// Entries an online build writes per transaction: large enough to amortise commits, small
/// enough that a concurrent write's conflict costs only one chunk's retry.
pub const BUILD_CHUNK_ENTRIES: usize = 100_000;

/// Memory an online build may use for one sorted run of entries. Past it the build writes
/// the run and starts another, so memory stays bounded whatever the collection's size.
pub const BUILD_RUN_BYTES: usize = 256 * 1024 * 1024;

/// Attempts at one build chunk that conflicts with concurrent writers before giving up.
pub const BUILD_CHUNK_RETRIES: usize = 64;

/// Boundaries kept in an index's histogram (equi-depth: as many entries between each pair).
pub const HISTOGRAM_BUCKETS: usize = 64;

/// Share of an index's entries that may change before its statistics are recomputed.
pub const STATS_STALE_FRACTION: f64 = 0.2;

/// Findings reported per index, at most; the count of the rest is still given.
pub const MAX_INDEX_FINDINGS: usize = 100;
