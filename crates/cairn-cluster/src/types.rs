//! The Raft type configuration: log entries carry [`WriteCommand`]s, the state machine answers
//! with their [`CommandOutcome`]s, and each member is a [`Member`] (its node-to-node address
//! and its HTTP API URL, for redirects).

use std::fmt;

use cairn_server::replication::{CommandOutcome, WriteCommand};
use serde::{Deserialize, Serialize};

/// A node's id in the cluster.
pub type NodeId = u64;

/// What the cluster knows about a member; replicated in membership entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Node-to-node address, `host:port`.
    pub cluster_addr: String,
    /// HTTP API base URL, e.g. `http://127.0.0.1:7001`.
    pub api_url: String,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (api {})", self.cluster_addr, self.api_url)
    }
}

/// The state machine's answer to one entry: a command's outcome, or nothing for blank and
/// membership entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied(pub Option<CommandOutcome>);

openraft::declare_raft_types!(
    /// Cairn's Raft types.
    pub TypeConfig:
        D = WriteCommand,
        R = Applied,
        NodeId = NodeId,
        Node = Member,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = std::io::Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log position.
pub type LogId = openraft::LogId<NodeId>;
/// A vote.
pub type Vote = openraft::Vote<NodeId>;
/// A storage error as openraft wants it.
pub type StorageError = openraft::StorageError<NodeId>;
/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;
/// The membership as last applied.
pub type StoredMembership = openraft::StoredMembership<NodeId, Member>;

/// A storage error for a failed log or vote write (`what` says what failed).
pub fn log_write_error(what: impl fmt::Display) -> StorageError {
    openraft::StorageIOError::write_logs(openraft::AnyError::error(what.to_string())).into()
}

/// A storage error for a failed state-machine read or write.
pub fn state_machine_error(what: impl fmt::Display) -> StorageError {
    openraft::StorageIOError::write_state_machine(openraft::AnyError::error(what.to_string()))
        .into()
}
