//! Linearizable reads share leadership checks (ReadIndex batching, as etcd does). openraft's
//! `ensure_linearizable` sends a heartbeat round to every voter per call; under many
//! concurrent `strong` reads that is two node-to-node requests per read. Here at most one
//! check runs at a time: reads that arrive while it runs wait for the next one, which then
//! answers all of them.
//!
//! Why this stays linearizable: a read joins the batch of a check that starts after the read
//! arrived (the batch is taken before the check is sent), so the read index that check
//! confirms is at least the commit index at the read's arrival, and the check waits until this
//! node has applied up to it — exactly what a check of its own would have given.

use std::sync::Arc;

use openraft::error::{CheckIsLeaderError, RaftError};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::limits::CLUSTER_WAIT;
use crate::types::Raft;

/// Why a check did not confirm leadership.
#[derive(Debug, Clone)]
pub enum ReadBarrierError {
    /// Another node leads (its API URL when known).
    NotLeader(Option<String>),
    /// No majority confirmed in time, or Raft refused.
    NoQuorum(String),
}

/// Reads waiting for the next check, and whether a check is running.
#[derive(Default)]
struct Queue {
    running: bool,
    waiting: Vec<oneshot::Sender<Result<(), ReadBarrierError>>>,
}

/// The shared read barrier of one node.
#[derive(Clone)]
pub struct ReadBarrier {
    raft: Raft,
    queue: Arc<Mutex<Queue>>,
}

impl ReadBarrier {
    /// A barrier over `raft`.
    pub fn new(raft: Raft) -> ReadBarrier {
        ReadBarrier {
            raft,
            queue: Arc::default(),
        }
    }

    /// Returns once a leadership check that started after this call has been confirmed by a
    /// majority and this node has applied up to its read index.
    pub async fn confirm(&self) -> Result<(), ReadBarrierError> {
        let (sender, receiver) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock();
            queue.waiting.push(sender);
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::spawn(drive(self.raft.clone(), self.queue.clone()));
        }
        receiver.await.unwrap_or_else(|_| {
            Err(ReadBarrierError::NoQuorum(
                "the read barrier stopped".into(),
            ))
        })
    }
}

/// Runs checks while reads wait: each takes every read queued so far.
async fn drive(raft: Raft, queue: Arc<Mutex<Queue>>) {
    loop {
        let batch = {
            let mut queue = queue.lock();
            if queue.waiting.is_empty() {
                queue.running = false;
                return;
            }
            std::mem::take(&mut queue.waiting)
        };
        let outcome = match tokio::time::timeout(CLUSTER_WAIT, raft.ensure_linearizable()).await {
            Err(_) => Err(ReadBarrierError::NoQuorum(
                "leadership was not confirmed in time".into(),
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)))) => Err(
                ReadBarrierError::NotLeader(forward.leader_node.map(|node| node.api_url)),
            ),
            Ok(Err(err)) => Err(ReadBarrierError::NoQuorum(err.to_string())),
        };
        for sender in batch {
            let _ = sender.send(outcome.clone());
        }
    }
}
