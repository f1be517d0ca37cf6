//! The server's limits and defaults. Each bounds something a client could otherwise grow
//! without bound (memory, threads, file descriptors, time); every one can be changed in the
//! configuration file's `[limits]` table, except where noted and the internal bounds at the end.

use std::time::Duration;

/// Queries taking at least 100 ms enter the slow-query log (`GET /v1/stats/queries`) and the
/// server log: long enough that an indexed lookup never does, short enough that a scan of a
/// large collection always does.
pub const DEFAULT_SLOW_QUERY: Duration = Duration::from_millis(100);

/// Address `cairn serve` listens on without configuration: loopback only, so a fresh install
/// is not reachable from the network until someone decides it should be.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// Database folder without configuration, the same default as every other `cairn` command.
pub const DEFAULT_DATA_DIR: &str = "./cairn-data";

/// Largest request body: 17 MiB. One maximum-size document (16 MiB encoded) plus room for the
/// JSON around it; bulk loads larger than that should be split into several batches, which
/// also keeps each commit short.
pub const DEFAULT_MAX_BODY_BYTES: usize = 17 * 1024 * 1024;

/// Largest document accepted over HTTP: the engine's own limit (16 MiB encoded). Lower it to
/// protect a server with little memory.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = cairn::document_limits::MAX_DOCUMENT_BYTES;

/// Largest response body: 64 MiB of JSON. Without it a small request could ask for a huge
/// answer (a transaction of 200 `get`s of one 4 MiB document answered 800 MiB and took 1.6 GiB
/// of memory). Query pages stop early at half of it (documents' encoded size, which JSON
/// usually exceeds) and return a cursor; other answers over it get 413 `limit_exceeded`. At
/// least twice [`DEFAULT_MAX_DOCUMENT_BYTES`], so any stored document can be read back.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Operations in one `POST /v1/transactions`: 1,000 (413 `limit_exceeded` beyond). Each
/// operation holds its result until the commit; bulk loads belong in `batch`, bulk changes in
/// `update-many` / `delete-many`.
pub const DEFAULT_MAX_TRANSACTION_OPERATIONS: usize = 1_000;

/// How long the answer of a write sent with an `Idempotency-Key` is kept for retries: 24
/// hours, longer than any client's retry loop; one record per keyed write in the meantime.
pub const DEFAULT_IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest `Idempotency-Key`: 255 bytes of visible ASCII (a UUID is 36). Not configurable.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// How long a replayed write waits for its first attempt to record its commit's sequence number
/// (a second commit right after the first; a retry can arrive in between): 2 seconds. After
/// that (the server stopped in between) the replay answers `seq` 0. Not configurable.
pub const IDEMPOTENCY_SEQ_WAIT: Duration = Duration::from_secs(2);

/// How often expired idempotency records are pruned: every 60 seconds. Not configurable.
pub const IDEMPOTENCY_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Expired idempotency records deleted per transaction while pruning: 1,000, so pruning never
/// holds a long write transaction. Not configurable.
pub const IDEMPOTENCY_PRUNE_BATCH: usize = 1_000;

/// Requests processed at once: 256. Engine calls run on Tokio's blocking pool (512 threads by
/// default); keeping well below that leaves threads for change streams and the commit
/// notifier. Requests beyond it are refused at once with 503 rather than queued, so an
/// overload shows up as errors a client can back off from, not as unbounded latency.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;

/// Longest a request may take before the client gets 408: 30 seconds. A batch of the largest
/// size commits in well under that; anything longer is a stuck or abusive request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Open change streams: 256. Each holds a connection and a task for as long as the client
/// listens, so they are counted apart from ordinary requests and do not time out.
pub const DEFAULT_MAX_CHANGE_STREAMS: usize = 256;

/// Open connections: 4,096. Each costs a file descriptor and a task; past this, new
/// connections are closed at once instead of exhausting descriptors the database also needs.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4_096;

/// How long a graceful shutdown waits for requests in flight: 10 seconds. After that they are
/// aborted; acknowledged commits are never lost either way (they are durable per the storage
/// mode, and memory-first is flushed before exit).
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Time a client has to send a request's headers (also bounds idle keep-alive reads): 30 s.
/// Not configurable; it only defends against connections that trickle bytes.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Time a client has to finish a TLS handshake: 10 seconds. Not configurable, for the same
/// reason as [`HEADER_READ_TIMEOUT`].
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Interval of SSE comment lines on an idle change stream: 15 seconds, below the idle timeouts
/// of common proxies (30–60 s), so a quiet stream is not cut by the network in between.
pub const CHANGE_STREAM_KEEPALIVE: Duration = Duration::from_secs(15);

/// Changes read from the log per step of a change stream: 1,000. Bounds the memory one
/// subscriber pins; a slow client simply takes more steps.
pub const CHANGES_PER_STREAM_READ: usize = 1_000;

/// Consumers of the event log (`/v1/consumers`): 1,000. Each is one small record, read on
/// every pull; not configurable.
pub const MAX_CONSUMERS: usize = 1_000;

/// Longest consumer name: 128 bytes, like a collection name. Not configurable.
pub const MAX_CONSUMER_NAME_BYTES: usize = 128;

/// Events one pull returns when the request names no `max`: 100.
pub const DEFAULT_EVENTS_PER_PULL: usize = 100;

/// Largest `max` of one pull: 1,000 events, like one step of a change stream: each event can
/// carry two documents, so this bounds an answer's memory. Not configurable.
pub const MAX_EVENTS_PER_PULL: usize = 1_000;

/// Changes of the log one pull examines at most: 10,000. A consumer of a quiet collection in a
/// busy database gets an empty page it can acknowledge rather than a request that reads the
/// whole log. Not configurable.
pub const MAX_CHANGES_SCANNED_PER_PULL: usize = 10_000;

/// How long the commit notifier waits for a commit before checking for shutdown: 1 second.
pub const COMMIT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Lifetime of a bearer token when the request names none: 24 hours.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest lifetime a bearer token may ask for: 30 days. A leaked token stops working by then
/// even if nobody revokes it.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Shortest password accepted for a new user or a password change: 8 characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longest password accepted: 1,024 characters (at most 4 KiB of UTF-8). Hashing cost grows
/// with input length; this keeps one login attempt cheap to refuse. Counted in characters, as
/// the OpenAPI document's `minLength`/`maxLength` count them.
pub const MAX_PASSWORD_CHARS: usize = 1_024;

/// Per-collection grants one user may hold: 1,000. The user record is read on every request.
pub const MAX_GRANTS_PER_USER: usize = 1_000;

/// Length of a generated root password in characters (base64 of 18 random bytes: 144 bits).
pub const GENERATED_PASSWORD_BYTES: usize = 18;

/// Random bytes in a bearer token: 32 (256 bits), so guessing one is hopeless and a plain
/// SHA-256 of it is a safe thing to store.
pub const TOKEN_RANDOM_BYTES: usize = 32;

/// Random bytes in a user's incarnation: 16 (128 bits), so a re-created user never collides
/// with an earlier one of the same name.
pub const INCARNATION_RANDOM_BYTES: usize = 16;

/// Documents a query returns when the request names no `limit`: 1,000. Small enough that an
/// accidental "everything" query answers quickly; the response carries a cursor for the next
/// page.
pub const DEFAULT_QUERY_PAGE: usize = 1_000;

/// Largest `limit` of one query request: the query layer's page limit (100,000). More than
/// that is paged with the cursor.
pub const MAX_QUERY_PAGE: usize = cairn::query::limits::MAX_RESULT_DOCUMENTS;

/// Largest `skip` of one query request: 100,000. Skipped documents are still read and sorted,
/// so a large skip costs like a large page; page with the cursor instead.
pub const MAX_QUERY_SKIP: usize = 100_000;

/// Largest `max_time_ms` a query request may name: one day. The request timeout caps the
/// budget anyway; this only keeps the number within what every JSON client represents.
pub const MAX_QUERY_TIME_MS: u64 = 86_400_000;

/// Largest `chunk_size` a migration request may name: 10,000 documents per chunk transaction.
/// A chunk is one commit; bigger ones hold more memory and make a cut-off run lose more time.
pub const MAX_MIGRATION_CHUNK_DOCUMENTS: usize = 10_000;

/// Share of the request timeout a migration run may use before it stops between two chunks
/// and answers 408 `migration_timeout` (resumable): 75 %. The rest leaves room for the chunk
/// in progress to commit before the server's own 408 would cut the request off unanswered.
pub const MIGRATION_TIME_SHARE_PERCENT: u32 = 75;

/// Longest invariant rule a request may give, in characters (as the OpenAPI document's
/// `maxLength` counts): the invariant layer's own limit in bytes (1,024), which it also checks.
pub const MAX_INVARIANT_RULE_CHARS: usize = cairn::invariant::limits::MAX_RULE_BYTES;

/// Password verifications (Argon2, 19 MiB and tens of milliseconds each) running at once: 2,
/// one per core of a small machine. Each keeps its own Argon2 memory for reuse, so the memory
/// HTTP Basic can cost is bounded at this many times 19 MiB whatever the number of clients
/// (plus one buffer in which admins' new passwords are hashed, one at a time). Not
/// configurable.
pub const MAX_CONCURRENT_PASSWORD_CHECKS: usize = 2;

/// Longest a request waits for a password verification slot before it is refused with 503
/// `auth_busy`: 2 seconds, the time about a hundred verifications take on two cores.
pub const PASSWORD_CHECK_WAIT: Duration = Duration::from_secs(2);

/// Wrong passwords a user name, or a client address, may send in a burst before further
/// password logins are refused with 429 `too_many_login_failures`: 10. Not configurable.
pub const LOGIN_FAILURE_BURST: u32 = 10;

/// Time that gives a throttled user name or client address back one attempt: 6 seconds (10 a
/// minute once the burst is spent). Bearer tokens and passwords verified before are never
/// throttled.
pub const LOGIN_FAILURE_REFILL: Duration = Duration::from_secs(6);

/// User names and client addresses whose failed logins are remembered at most: 10,000 (each a
/// few dozen bytes). Past it, ones that have recovered are forgotten first.
pub const MAX_LOGIN_THROTTLE_ENTRIES: usize = 10_000;

/// Longest a verified password is remembered (as a keyed hash) so that the next request with
/// it skips Argon2: 15 minutes. Any change to users or tokens forgets every entry at once.
pub const VERIFIED_PASSWORD_TTL: Duration = Duration::from_secs(15 * 60);

/// Most results one traversal request returns (`POST /v1/graph/traverse`): 10,000. A
/// traversal has no cursor; a wider neighbourhood is narrowed with depth, filters or `limit`,
/// and the response stays a few megabytes at most. Not configurable.
pub const MAX_GRAPH_RESULTS: usize = 10_000;

/// Most points one range or trajectory read returns and most buckets one downsample returns
/// over HTTP (`/v1/series/...`): 100,000. Reads have no cursor; a longer range is read in
/// pieces (the response says `truncated`), and a downsample with more buckets is refused
/// before any chunk is read. Not configurable.
pub const MAX_SERIES_RESULTS: usize = 100_000;

// Internal bounds: none of the following is configurable.

/// Tokens remembered at most: 10,000. Past it the cache starts over (it is only a cache);
/// each entry is a few hundred bytes.
pub(crate) const MAX_CACHED_TOKENS: usize = 10_000;

/// Longest user name: 64 bytes, the same character set as collection names.
pub const MAX_USER_NAME_BYTES: usize = 64;

/// Most attempts at a conflicting transaction: the engine's own bound.
pub(crate) const MAX_TXN_ATTEMPTS: u32 = cairn::limits::MAX_TXN_RETRIES + 1;

/// Longest back-off between attempts: the engine's own bound.
pub(crate) const MAX_TXN_BACKOFF: Duration = cairn::limits::MAX_RETRY_BACKOFF;

/// Reads queued per lane at most: 4,096. Beyond it requests are refused with 503 rather than
/// queued without bound (the request limit normally stops them long before).
pub(crate) const MAX_QUEUED_READS: usize = 4_096;

/// Most distinct label values interned: routes, methods and statuses are few (tens), so this
/// only guards against a bug turning raw paths into labels.
pub(crate) const MAX_INTERNED_LABELS: usize = 1_024;

/// Most (method, route, status) series whose handles are kept: 4,096, far above the routes ×
/// methods × statuses a server answers; past it a request registers its series anew each
/// time (correct, only slower).
pub(crate) const MAX_CACHED_SERIES: usize = 4_096;

/// Finished index builds whose record (state, counts, error) is kept for
/// `GET .../indexes/{name}/build`: 256, the oldest forgotten first. Builds in progress are
/// always kept (at most one per index). Not configurable.
pub(crate) const MAX_FINISHED_INDEX_BUILDS: usize = 256;

/// Longest `dest` of a backup request, in bytes: 1,024. Deeper trees under the backup root serve no
/// purpose.
pub(crate) const MAX_BACKUP_DEST_BYTES: usize = 1_024;

/// PBKDF2 iterations of the SCRAM-SHA-256 verifier stored with each password (PostgreSQL's
/// default; clients spend this per login, so it also bounds what a login costs them).
pub const SCRAM_ITERATIONS: u32 = 4096;
/// Shortest cluster secret accepted: 16 bytes, so it cannot be guessed by trying (the
/// node-to-node listener compares it in constant time).
pub const MIN_CLUSTER_SECRET_BYTES: usize = 16;

/// Longest `as_of` text (a sequence number or an RFC 3339 time), the `maxLength` the OpenAPI
/// document declares for every `as_of` parameter.
pub const MAX_AS_OF_BYTES: usize = 64;
