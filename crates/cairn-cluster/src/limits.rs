//! Every limit and timing of the replication layer, with its reason.

use std::time::Duration;

/// Leader heartbeat period. Followers start an election after
/// [`ELECTION_TIMEOUT_MIN_MS`]..[`ELECTION_TIMEOUT_MAX_MS`] without one, so a crashed leader
/// is replaced within about one second (issue 22 asks for under 2 s).
pub const HEARTBEAT_MS: u64 = 100;
/// Shortest election timeout: several heartbeats, so one late heartbeat on a busy machine does
/// not depose a healthy leader.
pub const ELECTION_TIMEOUT_MIN_MS: u64 = 500;
/// Longest election timeout (randomised between the two so candidates rarely collide).
pub const ELECTION_TIMEOUT_MAX_MS: u64 = 900;
/// A leader that has not heard from a majority for this long refuses `quorum` reads and writes
/// with `no_quorum` (it is probably on the minority side of a partition).
pub const QUORUM_ACK_STALE_MS: u64 = ELECTION_TIMEOUT_MAX_MS;
/// How long a `quorum`/`strong` write or a `strong` read waits for the cluster before answering
/// `no_quorum` (the write may still commit later: its outcome is unknown to the client).
pub const CLUSTER_WAIT: Duration = Duration::from_secs(5);
/// Time limit of one node-to-node request without a deadline of its own from Raft.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest node-to-node request body accepted (a batch of entries): 64 MiB.
pub const MAX_RPC_BODY_BYTES: usize = 64 << 20;
/// Entries per append request (bounds the request body with the documents' size limit).
pub const MAX_PAYLOAD_ENTRIES: u64 = 256;
/// Largest log record read back at start (a command holding a batch of documents); a larger
/// length prefix can only be a torn or corrupt record.
pub const MAX_LOG_RECORD_BYTES: u32 = 256 << 20;
/// How long `add-learner` waits for the new node to catch up before answering.
pub const LEARNER_CATCH_UP_WAIT: Duration = Duration::from_secs(60);
/// Default of `[cluster] snapshot_every`: entries applied since the last snapshot after which
/// a node builds a new one (a full backup of its database). Snapshots let the log be purged
/// behind them and bring a new or far-behind node up to date at once; each costs one backup,
/// during which applying waits.
pub const SNAPSHOT_EVERY_ENTRIES: u64 = 10_000;
/// Default of `[cluster] log_kept_after_snapshot`: entries kept in the log behind the latest
/// snapshot, so a follower only a little behind (a restart) catches up from the log rather
/// than from a whole snapshot. The log is purged up to `snapshot - this`.
pub const LOG_KEPT_AFTER_SNAPSHOT: u64 = 1_000;
/// Time limit for sending one snapshot chunk (a chunk is at most 3 MiB, JSON-encoded).
pub const SNAPSHOT_CHUNK_TIMEOUT_MS: u64 = 10_000;
/// Longest file name accepted in a received snapshot (a backup folder's names are short).
pub const MAX_SNAPSHOT_FILE_NAME_BYTES: usize = 255;
/// Longest a caller of the cluster port may take to finish its TLS handshake before it is
/// dropped (a peer on a working link needs milliseconds).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections whose TLS handshake succeeded and that wait for the HTTP server to take them;
/// beyond it the accept side waits (peers are few: a handful of connections each).
pub const MAX_PENDING_TLS_CONNECTIONS: usize = 64;
