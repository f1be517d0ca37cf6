//! The state machine is the Cairn database: an entry's [`WriteCommand`] is applied through the
//! ordinary engine API, and the applied log id and membership are written in the same
//! transaction, to the node-local system collection [`APPLIED_COLLECTION`]. So the applied
//! position is exactly as durable as the data it describes, and a restart resumes after it
//! without applying anything twice.
//!
//! Snapshots are Cairn backups ([`crate::snapshot`]): built while applying is held back for
//! the moment of the backup (so it holds exactly the position its metadata names), streamed to
//! a lagging or new node, and installed there atomically through a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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

/// The latest snapshot this node built or installed, kept for sending to followers (openraft
/// rebuilds one at start when the log was purged, so it need not survive a restart).
#[derive(Clone)]
struct Current {
    meta: SnapshotMeta<NodeId, Member>,
    packed: Arc<Vec<u8>>,
}

/// The database as a Raft state machine (clones share the position).
#[derive(Clone)]
pub struct StateMachine {
    db: Database,
    position: Arc<Mutex<Position>>,
    /// Held while entries are applied and while a snapshot's backup is taken, so a snapshot
    /// holds exactly the applied position its metadata names.
    apply_gate: Arc<Mutex<()>>,
    raft_dir: PathBuf,
    current: Arc<Mutex<Option<Current>>>,
    built: Arc<AtomicU64>,
}

impl StateMachine {
    /// Opens the state machine over `db`, reading the applied position stored in it;
    /// snapshots are built and staged under `raft_dir`.
    pub fn open(db: Database, raft_dir: &Path) -> Result<StateMachine, crate::error::ClusterError> {
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
            apply_gate: Arc::default(),
            raft_dir: raft_dir.to_path_buf(),
            current: Arc::default(),
            built: Arc::default(),
        })
    }

    /// Snapshots built by this node since it started.
    pub fn snapshots_built(&self) -> u64 {
        self.built.load(Ordering::Relaxed)
    }

    /// Builds a snapshot on the calling (blocking) thread.
    fn build_blocking(&self) -> Result<Snapshot<TypeConfig>, crate::error::ClusterError> {
        let (pos, packed) = {
            let _gate = self.apply_gate.lock();
            let pos = self.position.lock().clone();
            let packed = crate::snapshot::build(&self.db, &self.raft_dir)?;
            (pos, packed)
        };
        let number = self.built.fetch_add(1, Ordering::Relaxed) + 1;
        let meta = SnapshotMeta {
            last_log_id: pos.last_applied,
            last_membership: pos.membership,
            snapshot_id: format!(
                "{}-{}-{number}",
                pos.last_applied.map_or(0, |id| id.leader_id.term),
                pos.last_applied.map_or(0, |id| id.index),
            ),
        };
        tracing::info!(snapshot = %meta.snapshot_id, bytes = packed.len(), "built a snapshot");
        let current = Current {
            meta: meta.clone(),
            packed: Arc::new(packed),
        };
        let snapshot = to_snapshot(&current);
        *self.current.lock() = Some(current);
        Ok(snapshot)
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

/// A snapshot error as openraft wants it.
fn snapshot_error(err: &crate::error::ClusterError) -> StorageError {
    openraft::StorageIOError::write_snapshot(None, openraft::AnyError::error(err.to_string()))
        .into()
}

fn to_snapshot(current: &Current) -> Snapshot<TypeConfig> {
    Snapshot {
        meta: current.meta.clone(),
        snapshot: Box::new(std::io::Cursor::new(current.packed.to_vec())),
    }
}

/// Applies entries in order on the calling (blocking) thread.
fn apply_all(
    db: &Database,
    position: &Mutex<Position>,
    gate: &Mutex<()>,
    entries: Vec<Entry>,
) -> Vec<Applied> {
    let _gate = gate.lock();
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
                let run = cairn_server::run_transaction(db, |txn| Ok(marker(txn)?));
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
        let sm = self.clone();
        tokio::task::spawn_blocking(move || sm.build_blocking())
            .await
            .map_err(state_machine_error)?
            .map_err(|err| snapshot_error(&err))
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
        let gate = self.apply_gate.clone();
        tokio::task::spawn_blocking(move || apply_all(&db, &position, &gate, entries))
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
        meta: &SnapshotMeta<NodeId, Member>,
        snapshot: Box<std::io::Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let packed = snapshot.into_inner();
        let raft_dir = self.raft_dir.clone();
        let expected = meta.last_log_id;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = packed.len(), "installing a snapshot");
        tokio::task::spawn_blocking(move || crate::snapshot::stage(&packed, &raft_dir, expected))
            .await
            .map_err(state_machine_error)?
            .map_err(|err| snapshot_error(&err))?;
        // Only a fresh start swaps the database every part of the server holds; `restart`
        // returns only when it could not re-execute (the next start finishes the install).
        let err = crate::snapshot::restart(&self.db);
        Err(snapshot_error(&err))
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.current.lock().as_ref().map(to_snapshot))
    }
}
