//! Bounds of the `cairn bench` commands' options and clients: each refuses an option or an
//! answer that would exhaust the machine rather than measure it.

use std::time::Duration;

/// `cairn bench geo`: largest `--scale`; every shape is held in memory several times (brute force, rstar).
pub(crate) const MAX_GEO_SCALE: f64 = 20.0;

/// `cairn bench geo`: largest `--repeat`.
pub(crate) const MAX_GEO_REPEAT: usize = 1_000;

/// `cairn bench geo`: longest the benchmark waits for the index to become resident after the first pass.
pub(crate) const MAX_GEO_RESIDENT_WAIT: Duration = Duration::from_secs(60);

/// `cairn bench core`: most batch-loaded documents; every id is held in memory (32 bytes each), 640 MB at this
/// bound.
pub(crate) const MAX_CORE_DOCS: usize = 20_000_000;

/// `cairn bench core`: most concurrent writers; one OS thread (and for SQLite one connection) each.
pub(crate) const MAX_CORE_THREADS: usize = 1_024;

/// `cairn bench core`: most tags on one generated document.
pub(crate) const MAX_CORE_TAGS: u64 = 4;

/// `cairn bench http`: most `--rounds`.
pub(crate) const MAX_HTTP_ROUNDS: usize = 100;

/// `cairn bench http`: most `--connections`; one task and socket each, far above the default 64.
pub(crate) const MAX_HTTP_CONNECTIONS: usize = 1_024;

/// `cairn bench http`: most documents loaded before timing.
pub(crate) const MAX_HTTP_DOCS: usize = 10_000_000;

/// `cairn bench http`: largest response head the load client accepts; 16 KiB, far above what either server sends.
pub(crate) const MAX_HTTP_HEAD_BYTES: usize = 16 * 1024;

/// `cairn bench http`: largest response body the load client accepts; 1 MiB.
pub(crate) const MAX_HTTP_BODY_BYTES: usize = 1024 * 1024;

/// `cairn bench query`: most `--docs`; every id is held in memory (32 bytes each).
pub(crate) const MAX_QUERY_DOCS: usize = 20_000_000;

/// `cairn bench query`: longest timed pass accepted (`--seconds`).
pub(crate) const MAX_QUERY_SECONDS: f64 = 3_600.0;

/// `cairn bench query`: longest warm-up before a timed pass.
pub(crate) const MAX_QUERY_WARMUP: Duration = Duration::from_secs(1);

/// `cairn bench text`: most `--docs`; every paragraph is held in memory (and written once more
/// as JSON for tantivy), about 0.4 GB at this bound.
pub(crate) const MAX_TEXT_DOCS: usize = 2_000_000;

/// `cairn bench text`: most `--queries` per class.
pub(crate) const MAX_TEXT_QUERIES: usize = 100_000;

/// `cairn bench federation`: most `--docs`; both stores and the DuckDB copy hold them all.
pub(crate) const MAX_FEDERATION_DOCS: usize = 20_000_000;
/// `cairn bench sql`: most `--docs`; every generated row is held in memory (~80 bytes each)
/// until the three systems are loaded.
pub(crate) const MAX_SQL_DOCS: usize = 10_000_000;

/// `cairn bench cluster`: longest timed phase accepted (`--seconds`); the run has ten.
pub(crate) const MAX_CLUSTER_SECONDS: f64 = 600.0;

/// `cairn bench cluster`: most `--read-clients`; one task and socket each.
pub(crate) const MAX_CLUSTER_READ_CLIENTS: usize = 1_024;

/// `cairn bench cluster`: longest wait for a cluster to start and elect a leader, or for a
/// follower to hold the last written key, before the run gives up.
pub(crate) const CLUSTER_START_WAIT: Duration = Duration::from_secs(60);

/// `cairn bench cluster`: longest wait for a write to succeed after the leader is killed;
/// far above the 2 s target, so a slow failover is measured rather than cut short.
pub(crate) const CLUSTER_FAILOVER_WAIT: Duration = Duration::from_secs(30);

/// `cairn bench cluster`: time limit of one write attempt during failover; a node that
/// holds a request longer (waiting for a leader) is left for the next one.
pub(crate) const CLUSTER_FAILOVER_ATTEMPT: Duration = Duration::from_secs(1);
