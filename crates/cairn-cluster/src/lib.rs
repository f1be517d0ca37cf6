//! Cairn's replication layer: a Raft group (openraft) whose replicated state machine is the
//! database. It is the top layer: it depends on the server's narrow
//! [`cairn_server::replication::Replication`] seam and the `cairn` facade, and nothing below
//! depends on it (`cairn serve` wires it in when the configuration has a `[cluster]` section).
//!
//! - `log_store.rs`: the Raft log and vote in their own fsynced files under `<data>/raft/`.
//! - `state_machine.rs`: applies each entry's deterministic write command through the engine
//!   API, recording the applied position in the same transaction.
//! - `snapshot.rs`: snapshots as Cairn backups, installed atomically through a restart
//!   ([`finish_pending_install`]).
//! - `network.rs`: Raft RPCs as JSON over HTTP between nodes, authenticated by the cluster
//!   secret, over mutual TLS when the node has a certificate (`tls.rs`, [`LinkTls`]).
//! - `node.rs`: starts a node ([`start`]) and serves writes, read barriers per consistency
//!   level, status, membership changes and metrics.
//! - `read_index.rs`: `strong` reads share leadership checks (one heartbeat round answers
//!   every read that arrived before it started).
//! - [`linearizability`]: a Wing–Gong/Lowe checker (Porcupine's algorithm) for histories of
//!   register operations, used by the fault tests.
//!
//! Surface: the items re-exported below, plus two public namespaces: [`linearizability`] (the
//! checker, a self-contained tool with its own `Input`/`Output`/`check`) and [`limits`] (the
//! named bounds, so callers can quote them). Every other module is private.

mod error;
pub mod limits;
pub mod linearizability;
mod log_store;
mod network;
mod node;
mod read_index;
mod snapshot;
mod state_machine;
mod tls;
mod types;

pub use error::ClusterError;
pub use node::{start, ClusterNode};
pub use snapshot::finish_pending_install;
pub use tls::LinkTls;
