//! The crate's one error type.

use std::path::PathBuf;

/// Why the replication layer could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The Raft log or vote file could not be read or written.
    #[error("raft log {path}: {source}")]
    Log {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A log record did not decode (the file is corrupt, not torn).
    #[error("raft log {path}: corrupt record at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The engine refused reading or writing the applied position.
    #[error("state machine: {0}")]
    Engine(#[from] cairn::EngineError),
    /// The node-to-node listener could not bind.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The node-to-node TLS files could not be read or do not fit together.
    #[error("cluster TLS: {0}")]
    Tls(String),
    /// openraft refused the configuration or failed to start.
    #[error("raft: {0}")]
    Raft(String),
}
