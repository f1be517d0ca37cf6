//! Every limit of the SQL layer, named and documented in one place.

use std::time::Duration;

/// Documents per Arrow record batch a scan produces (one page of Cairn's query API). Large
/// enough that per-batch overhead (planning a page, one channel hop) is amortised, small
/// enough that a result is streamed rather than materialised.
pub const SCAN_BATCH_ROWS: usize = 1024;

/// Most join keys a hash join's build side may hand a Cairn scan as an `IN` list (DataFusion's
/// `hash_join_inlist_pushdown_max_distinct_values`, raised from its 150 for Cairn sessions):
/// up to this many keys the probe side reads by key (`_id $in`, point reads) instead of
/// scanning; above it the join probes a full scan. Below the query layer's `$in` limit
/// (10,000), and small enough that the list costs little to build and send.
pub const MAX_RUNTIME_FILTER_KEYS: usize = 4096;

/// Record batches a scan may have produced ahead of its consumer (a bounded channel gives
/// back-pressure: a slow client holds at most this many batches per scan in memory).
pub const SCAN_CHANNEL_BATCHES: usize = 2;

/// Time budget of one statement unless the session sets `statement_timeout`.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of SQL text one request may carry (a larger one is refused before parsing).
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// Concurrent PostgreSQL-protocol connections a server accepts by default.
pub const DEFAULT_MAX_PG_CONNECTIONS: usize = 64;

/// Sources one database may define (each is a catalog every session registers).
pub const MAX_SOURCES: usize = 256;

/// Bytes of a source's name (PostgreSQL's identifier limit).
pub const MAX_SOURCE_NAME_BYTES: usize = 63;

/// Bytes of a source's URL.
pub const MAX_SOURCE_URL_BYTES: usize = 4096;

/// How often the health of every source is checked (`cairn serve`).
pub const SOURCE_HEALTH_INTERVAL: Duration = Duration::from_secs(15);

/// How long one health check (connect and `SELECT 1`) may take before the source is down.
pub const SOURCE_HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long connecting to a source for a statement may take.
pub const SOURCE_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows per Arrow record batch a remote scan produces.
pub const SOURCE_BATCH_ROWS: usize = 4096;

/// Most bytes of `COPY … FROM STDIN` data one statement takes: the data is held until the
/// client's CopyDone, then written in one transaction. Larger loads go in several COPYs (or
/// `cairn import`, which streams).
pub const MAX_COPY_IN_BYTES: usize = 256 << 20;

/// Rows per `INSERT` a `COPY … FROM STDIN` is written in (each also stays under
/// [`MAX_STATEMENT_BYTES`]); all of them commit together.
pub const COPY_INSERT_ROWS: usize = 1000;
