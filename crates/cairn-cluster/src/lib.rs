//! Cairn's replication layer: a Raft group (openraft) whose replicated state machine is the
//! database. It is the top layer: it depends on the server's narrow
//! [`cairn_server::replication::Replication`] seam and the `cairn` facade, and nothing below
//! depends on it (`cairn serve` wires it in when the configuration has a `[cluster]` section).
//!
//! - [`log_store`]: the Raft log and vote in their own fsynced files under `<data>/raft/`.
//! - [`state_machine`]: applies each entry's deterministic write command through the engine
//!   API, recording the applied position in the same transaction.
//! - [`snapshot`]: snapshots as Cairn backups, installed atomically through a restart.
//! - [`network`]: Raft RPCs as JSON over HTTP between nodes, authenticated by the cluster
//!   secret, over mutual TLS when the node has a certificate ([`tls`]).
//! - [`node`]: starts a node and serves writes, read barriers per consistency level, status,
//!   membership changes and metrics.
//! - [`read_index`]: `strong` reads share leadership checks (one heartbeat round answers every
//!   read that arrived before it started).
//! - [`linearizability`]: a Wing–Gong/Lowe checker (Porcupine's algorithm) for histories of
//!   register operations, used by the fault tests.

pub mod error;
pub mod limits;
pub mod linearizability;
pub mod log_store;
pub mod network;
pub mod node;
pub mod read_index;
pub mod snapshot;
pub mod state_machine;
pub mod tls;
pub mod types;

pub use error::ClusterError;
pub use node::{start, ClusterNode};
