//! The state machine is the Cairn database: an entry's [`WriteCommand`] is applied through the
//! ordinary engine API, and the applied log id and membership are written in the same
//! transaction, to the node-local system collection [`APPLIED_COLLECTION`]. So the applied
//! position is exactly as durable as the data it describes, and a restart resumes after it
//! without applying anything twice.
//!
//! Snapshots (a Cairn backup streamed to a lagging node and installed atomically) are not
//! implemented yet: the log is never compacted ([`crate::node`] turns snapshots off), so a
//! lagging or new node catches up from the log.

use std::sync::Arc;

use cairn::{Database, DocId, EngineError, Object, Transaction, Value};
use cairn_server::replication::WriteCommand;
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta};
use parking_lot::Mutex;

use crate::types::{
    state_machine_error, Applied, Entry, LogId, Member, NodeId, StorageError, StoredMembership,
    TypeConfig,
};

/// System collection holding the applied position (one document, [`APPLIED_ID`]).
pub const APPLIED_COLLECTION: &str = "_sys_raft";
/// The `_id` of the applied-position document.
pub const APPLIED_ID: &str = "applied";

/// The applied position, mirrored in memory.
#[derive(Debug, Clone, Default)]
struct Position {
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

/// The database as a Raft state machine (clones share the position).
#[derive(Clone)]
pub struct StateMachine {
    db: Database,
    position: Arc<Mutex<Position>>,
}

impl StateMachine {
    /// Opens the state machine over `db`, reading the applied position stored in it.
    pub fn open(db: Database) -> Result<StateMachine, crate::error::ClusterError> {
        match db.create_collection(APPLIED_COLLECTION) {
            Ok(_) | Err(EngineError::CollectionExists { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        let mut position = Position::default();
        if let Some(doc) = db.get(APPLIED_COLLECTION, &DocId::String(APPLIED_ID.into()))? {
            let field = |name: &str| match doc.as_object().and_then(|o| o.get(name)) {
                Some(Value::String(text)) => Some(text.clone()),
                _ => None,
            };
            position.last_applied = field("log_id").and_then(|t| serde_json::from_str(&t).ok());
            if let Some(m) = field("membership").and_then(|t| serde_json::from_str(&t).ok()) {
                position.membership = m;
            }
        }
        Ok(StateMachine {
            db,
            position: Arc::new(Mutex::new(position)),
        })
    }

    /// The last applied log index (0 before any).
    pub fn applied_index(&self) -> u64 {
        self.position.lock().last_applied.map_or(0, |id| id.index)
    }
}

/// Writes the applied position into `txn`.
fn mark(
    txn: &mut Transaction,
    log_id: &LogId,
    membership: &StoredMembership,
) -> Result<(), EngineError> {
    let mut doc = Object::new();
    doc.insert("_id", Value::String(APPLIED_ID.into()));
    doc.insert(
        "log_id",
        Value::String(serde_json::to_string(log_id).unwrap_or_default()),
    );
    doc.insert(
        "membership",
        Value::String(serde_json::to_string(membership).unwrap_or_default()),
    );
    txn.upsert(APPLIED_COLLECTION, Value::Object(doc))?;
    Ok(())
}

/// Applies entries in order on the calling (blocking) thread.
fn apply_all(db: &Database, position: &Mutex<Position>, entries: Vec<Entry>) -> Vec<Applied> {
    let mut answers = Vec::with_capacity(entries.len());
    for entry in entries {
        let log_id = entry.log_id;
        let mut membership = position.lock().membership.clone();
        let command: Option<WriteCommand> = match entry.payload {
            EntryPayload::Blank => None,
            EntryPayload::Normal(command) => Some(command),
            EntryPayload::Membership(m) => {
                membership = StoredMembership::new(Some(log_id), m);
                None
            }
        };
        let marker = |txn: &mut Transaction| mark(txn, &log_id, &membership);
        let answer = match command {
            Some(command) => Applied(Some(command.apply(db, &marker))),
            None => {
                let run = cairn_server::transact::run(db, |txn| Ok(marker(txn)?));
                if let Err(err) = run {
                    tracing::error!(error = %err.message, "recording the applied position failed");
                }
                Applied(None)
            }
        };
        let mut pos = position.lock();
        pos.last_applied = Some(log_id);
        pos.membership = membership;
        answers.push(answer);
    }
    answers
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        Err(state_machine_error(
            "snapshots are not implemented yet (the log is kept whole instead)",
        ))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let pos = self.position.lock();
        Ok((pos.last_applied, pos.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let db = self.db.clone();
        let position = self.position.clone();
        tokio::task::spawn_blocking(move || apply_all(&db, &position, entries))
            .await
            .map_err(state_machine_error)
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<std::io::Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(std::io::Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMeta<NodeId, Member>,
        _snapshot: Box<std::io::Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        Err(state_machine_error(
            "installing snapshots is not implemented yet",
        ))
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(None)
    }
}
