//! Every limit of the SQL layer, named and documented in one place.

use std::time::Duration;

/// Documents per Arrow record batch a scan produces (one page of Cairn's query API). Large
/// enough that per-batch overhead (planning a page, one channel hop) is amortised, small
/// enough that a result is streamed rather than materialised.
pub const SCAN_BATCH_ROWS: usize = 1024;

/// Record batches a scan may have produced ahead of its consumer (a bounded channel gives
/// back-pressure: a slow client holds at most this many batches per scan in memory).
pub const SCAN_CHANNEL_BATCHES: usize = 2;

/// Time budget of one statement unless the session sets `statement_timeout`.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of SQL text one request may carry (a larger one is refused before parsing).
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// Concurrent PostgreSQL-protocol connections a server accepts by default.
pub const DEFAULT_MAX_PG_CONNECTIONS: usize = 64;
