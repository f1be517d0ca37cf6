//! The engine's limits. Each bounds something that would otherwise grow with input.

use std::time::Duration;

/// Documents of a dropped collection reclaimed per commit: 10,000 (a record delete and a
/// routing-entry delete each). Keeps each reclamation commit in the tens of milliseconds, so
/// dropping a large collection never holds the writer for long.
pub const RECLAIM_CHUNK_DOCS: usize = 10_000;

/// Operations in one batch or transaction: 100,000. Large enough for bulk-import chunks,
/// small enough that one transaction's write buffer and commit stay in the tens of megabytes.
pub const MAX_TXN_OPS: usize = 100_000;

/// Bytes of pending writes (keys + values) one transaction may buffer: 256 MiB. Bounds the
/// memory a single client can pin and the duration of the commit that applies it.
pub const MAX_TXN_WRITE_BYTES: u64 = 256 * 1024 * 1024;

/// Collection-name length in bytes: 128, ample for entity-type names, short enough to repeat
/// in every change-log record.
pub const MAX_COLLECTION_NAME_BYTES: usize = 128;

/// Collections per database: 10,000. Each owns several tables; the catalog is read in full at
/// open.
pub const MAX_COLLECTIONS: usize = 10_000;

/// Resolved collection handles a database keeps between transactions: 1,024. A transaction
/// resolving a collection reuses the handle when the catalog entry's bytes are unchanged,
/// skipping the decode and extension lookup (~10k instructions on every query). Past the bound
/// the cache starts over; with more live collections than this, some resolutions decode again.
pub const MAX_CACHED_COLLECTION_HANDLES: usize = 1_024;

/// Collections one shared storage view remembers as resolved: 64 (see `view_state.rs`). A
/// query touches one or a few; past the bound, a view's other collections are resolved from
/// its catalog by each transaction, as without the memo.
pub const MAX_VIEW_COLLECTIONS: usize = 64;

/// Extensions (indexes, model structures) per collection: 64. Every write to the collection
/// calls each of them.
pub const MAX_EXTENSIONS_PER_COLLECTION: usize = 64;

/// Transactions merged into one storage commit: 4,096. Bounds one group's latency.
pub const MAX_GROUP_COMMIT_TXNS: usize = 4_096;

/// Bytes of writes merged into one storage commit: 64 MiB (a single larger transaction still
/// commits, alone).
pub const MAX_GROUP_COMMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Commit requests waiting for the writer: 4,096. When full, committers wait: back-pressure
/// instead of unbounded queueing.
pub const MAX_COMMIT_QUEUE: usize = 4_096;

/// Keys remembered for conflict detection: 4 million written keys. Older entries are dropped
/// once no live transaction needs them; past this bound the oldest are dropped anyway and
/// transactions whose snapshot predates them fail with `TransactionTooOld`.
pub const MAX_CONFLICT_WINDOW_KEYS: usize = 4_000_000;

/// Automatic retries of a conflicting transaction before the conflict is returned: 64. With
/// randomised back-off this outlasts heavy contention on a single hot document.
pub const MAX_TXN_RETRIES: u32 = 64;

/// Longest back-off between two retries.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_millis(20);

/// Change-log entries removed per commit round by retention: 16,384. Keeps trimming from
/// stalling writers after the retention setting is lowered; the log converges over rounds.
pub const MAX_TRIM_PER_COMMIT: usize = 16_384;

/// Largest per-collection retention, in changes of that collection: 2^40 (about 10^12). A
/// count, not a duration, like the database-wide retention; the bound only keeps the
/// arithmetic far from overflow.
pub const MAX_COLLECTION_RETENTION_CHANGES: u64 = 1 << 40;

/// Changes returned by one change-log read: 10,000. Readers page through with the last
/// sequence number they saw.
pub const MAX_CHANGES_PER_READ: usize = 10_000;

/// Default change-log retention: the most recent 100,000 changes. Enough for a subscriber or
/// follower to catch up after a minute or two of downtime at a thousand writes per second, while
/// keeping the log a small fraction of a large database (each change holds whole documents).
/// Backups and replicas that need more history raise it per database.
pub const DEFAULT_CHANGELOG_RETENTION_CHANGES: u64 = 100_000;

/// Nesting of writes made by extensions on behalf of a write (a cascading delete that deletes
/// documents whose deletion cascades further): 16. Deeper chains are almost always a reference
/// cycle in the data model; the bound keeps one delete from recursing without end. (How *many*
/// documents one cascade touches is bounded by [`MAX_TXN_OPS`].)
pub const MAX_CASCADE_DEPTH: usize = 16;

/// Highest zstd level accepted; higher requests are clamped (zstd's own maximum).
pub const MAX_ZSTD_LEVEL: i32 = 22;

/// Findings kept in a report: 10,000. A badly damaged file could produce one per record; past
/// this the report counts them without listing them.
pub const MAX_REPORTED_FINDINGS: usize = 10_000;

/// Longest the last [`Database`](crate::Database) handle waits, when dropped, for background readers to stop.
/// They check [`BackgroundRead::should_stop`](crate::BackgroundRead::should_stop) between small steps, so this is only reached by
/// a reader stuck in I/O; past it the database closes when that reader ends.
pub const MAX_BACKGROUND_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Dictionaries one collection may accumulate: 8 (with 10× growth, a billion documents).
pub const MAX_DICTIONARIES_PER_COLLECTION: usize = 8;

/// Largest frame a reader accepts: 64 MiB (a chunk can exceed `CHUNK_BYTES` by one entry,
/// at most one 16 MiB document with its old version in a change record). Bounds what a
/// damaged length field can make the reader allocate.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// Plain bytes of records (keys included) a packed run holds before a new run starts: 8 KiB
/// (`packed.rs`). A point get decompresses one run, so this is the per-get decompression
/// cost; it is also what compression sees at once. Chosen by measurement (`cairn bench
/// storage`, `cairn bench core`; see docs/design/engine.md). A record larger than this is
/// stored alone in its run.
pub const MAX_RUN_BYTES: usize = 8 * 1024;

/// Records per packed run: 128, so a run of tiny documents still bounds a get's binary
/// search and a rewrite's size.
pub const MAX_RUN_RECORDS: usize = 128;

/// A rewritten run smaller than this (a quarter of [`MAX_RUN_BYTES`]) absorbs its right-hand
/// neighbour, so deletes do not leave a trail of tiny runs.
pub const MIN_RUN_BYTES: usize = MAX_RUN_BYTES / 4;

/// Plain bytes a stored run may claim when decompressed: one document at the document size
/// limit plus a full run's worth. A damaged header claiming more is refused before allocating.
pub const MAX_RUN_PLAIN_BYTES: usize = cairn_doc::limits::MAX_DOCUMENT_BYTES + 2 * MAX_RUN_BYTES;

/// Tags on one collection (`cairn::catalog`): 64. The catalog reads every tag record on each
/// listing; researchers stamp a handful of model parameters, not hundreds.
pub const MAX_TAGS_PER_COLLECTION: usize = 64;

/// Longest tag key: 128 bytes, like a collection name.
pub const MAX_TAG_KEY_BYTES: usize = 128;

/// Longest tag value: 1 KiB (a parameter value or a short note, not a document).
pub const MAX_TAG_VALUE_BYTES: usize = 1024;
