//! The single writer: validates transactions and applies them in group commits.
//!
//! Transactions run concurrently against snapshots and hand their read and write sets to this
//! thread. It drains whatever requests are queued (up to [`MAX_GROUP_COMMIT_TXNS`] /
//! [`MAX_GROUP_COMMIT_BYTES`]), validates each against the commits before it, assigns
//! sequence numbers, applies all accepted write sets plus their change-log records in **one**
//! storage commit, and only then answers each caller. Many small durable writers therefore
//! share one fsync, and nobody is acknowledged before the storage commit that holds their
//! writes has returned.
//!
//! Invariant: sequence numbers are assigned in the order transactions are applied, and a
//! caller hears `Ok(seq)` only after the storage commit containing `seq` succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use cairn_doc::DateTime;
use cairn_storage::{StorageError, Store, WriteTxn};
use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};

use crate::changelog::PendingChange;
use crate::compression::Codecs;
use crate::conflict::ConflictWindow;
use crate::error::{EngineError, Result};
use crate::layout::{changelog_key, is_docs_table, parse_changelog_key, CHANGELOG_TABLE};
use crate::limits::{
    MAX_COMMIT_QUEUE, MAX_GROUP_COMMIT_BYTES, MAX_GROUP_COMMIT_TXNS, MAX_TRIM_PER_COMMIT,
};
use crate::packed::RunOwner;
use crate::record::stamp_seq;
use crate::writeset::{Pending, ReadSet, WriteSet};

/// A live snapshot's registration: while it exists, the writer keeps the conflict information
/// a transaction on that snapshot needs. Dropping it unregisters.
pub(crate) struct SnapshotRegistration {
    shared: Arc<Shared>,
    seq: u64,
}

impl SnapshotRegistration {
    /// Registers a snapshot no older than the latest published commit; see
    /// [`Shared::register_snapshot`].
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let seq = shared.register_snapshot();
        SnapshotRegistration { shared, seq }
    }

    /// A second registration of the same snapshot (a forked read-only transaction), so the
    /// snapshot stays registered until both are dropped.
    pub(crate) fn duplicate(&self) -> Self {
        *self.shared.active.lock().entry(self.seq).or_insert(0) += 1;
        SnapshotRegistration {
            shared: self.shared.clone(),
            seq: self.seq,
        }
    }

    /// The registered sequence number (never above the snapshot's own).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

impl Drop for SnapshotRegistration {
    fn drop(&mut self) {
        self.shared.unregister_snapshot(self.seq);
    }
}

/// One transaction handed to the writer.
pub(crate) struct CommitRequest {
    pub(crate) snapshot_seq: u64,
    /// Held until the request is validated, so a queued (pipelined) transaction's conflict
    /// information cannot be pruned while it waits.
    pub(crate) _registration: SnapshotRegistration,
    pub(crate) reads: ReadSet,
    pub(crate) writes: WriteSet,
    pub(crate) changes: Vec<PendingChange>,
    pub(crate) reply: Sender<Result<u64>>,
}

/// State shared by transactions and the writer.
pub(crate) struct Shared {
    pub(crate) store: Store,
    /// Sequence number of the latest successful commit.
    pub(crate) published_seq: AtomicU64,
    /// Snapshot sequence numbers of live transactions, with counts.
    pub(crate) active: Mutex<BTreeMap<u64, usize>>,
    /// Woken after every commit, for change-log tailers.
    pub(crate) committed: Condvar,
    pub(crate) committed_lock: Mutex<()>,
    pub(crate) counters: Counters,
    /// The cached view for reads outside transactions.
    pub(crate) views: crate::read_view::ViewCache,
    /// Compression settings and dictionaries.
    pub(crate) codecs: crate::compression::Codecs,
    /// Serialises dictionary training; remembers, per collection id, the document count at the
    /// last training attempt that produced nothing.
    pub(crate) training: Mutex<std::collections::HashMap<u32, u64>>,
}

/// Commit counters exposed through `stats` and metrics.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) transactions: AtomicU64,
    pub(crate) groups: AtomicU64,
    pub(crate) conflicts: AtomicU64,
}

impl Shared {
    /// Registers a live snapshot no older than the latest published commit. Called *before*
    /// the storage snapshot is taken, so the registered number never exceeds the snapshot's.
    pub(crate) fn register_snapshot(&self) -> u64 {
        let mut active = self.active.lock();
        let seq = self.published_seq.load(Ordering::Acquire);
        *active.entry(seq).or_insert(0) += 1;
        seq
    }

    pub(crate) fn unregister_snapshot(&self, seq: u64) {
        let mut active = self.active.lock();
        if let Some(count) = active.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                active.remove(&seq);
            }
        }
    }

    /// Waits until a commit after `seq` is published or `timeout` passes; returns the latest
    /// published sequence number.
    pub(crate) fn wait_for_commit_after(&self, seq: u64, timeout: std::time::Duration) -> u64 {
        let deadline = std::time::Instant::now() + timeout;
        let mut guard = self.committed_lock.lock();
        loop {
            let published = self.published_seq.load(Ordering::Acquire);
            if published > seq || self.committed.wait_until(&mut guard, deadline).timed_out() {
                return self.published_seq.load(Ordering::Acquire);
            }
        }
    }
}

/// Durable counters the writer carries between groups.
pub(crate) struct WriterState {
    pub(crate) last_seq: u64,
    pub(crate) changelog_len: u64,
    pub(crate) changelog_trimmed_through: u64,
    pub(crate) changelog_retention: u64,
    /// Per-collection retention settings (`retention.rs`), read in the first commit that trims
    /// and again after a group that wrote them or failed; `None`: read them at the next trim.
    pub(crate) retention_settings: Option<crate::retention::Settings>,
}

/// Handle to the writer thread; dropping it drains the queue and stops the thread.
pub(crate) struct Committer {
    sender: Option<Sender<CommitRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub(crate) fn start(shared: Arc<Shared>, state: WriterState) -> Result<Committer> {
        let (sender, receiver) = crossbeam_channel::bounded(MAX_COMMIT_QUEUE);
        let mut writer = Writer {
            shared,
            state,
            window: ConflictWindow::default(),
        };
        let thread = std::thread::Builder::new()
            .name("cairn-writer".to_string())
            .spawn(move || writer.run(receiver))
            .map_err(|source| StorageError::Io {
                path: "<writer thread>".into(),
                source,
            })?;
        Ok(Committer {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Queues a transaction; the returned receiver yields its outcome once the storage commit
    /// holding it has succeeded (or it was rejected).
    pub(crate) fn submit(
        &self,
        snapshot_seq: u64,
        registration: SnapshotRegistration,
        reads: ReadSet,
        writes: WriteSet,
        changes: Vec<PendingChange>,
    ) -> Result<Receiver<Result<u64>>> {
        let sender = self.sender.as_ref().ok_or(EngineError::Closed)?;
        let (reply, outcome) = crossbeam_channel::bounded(1);
        let request = CommitRequest {
            snapshot_seq,
            _registration: registration,
            reads,
            writes,
            changes,
            reply,
        };
        sender.send(request).map_err(|_| EngineError::Closed)?;
        Ok(outcome)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Writer {
    shared: Arc<Shared>,
    state: WriterState,
    window: ConflictWindow,
}

impl Writer {
    fn run(&mut self, receiver: Receiver<CommitRequest>) {
        while let Ok(first) = receiver.recv() {
            let mut bytes = first.writes.size_bytes;
            let mut group = vec![first];
            while group.len() < MAX_GROUP_COMMIT_TXNS && bytes < MAX_GROUP_COMMIT_BYTES {
                match receiver.try_recv() {
                    Ok(request) => {
                        bytes += request.writes.size_bytes;
                        group.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
    }

    fn commit_group(&mut self, group: Vec<CommitRequest>) {
        let mut accepted = Vec::with_capacity(group.len());
        let mut seq = self.state.last_seq;
        for request in group {
            if let Err(err) = self.window.validate(request.snapshot_seq, &request.reads) {
                self.shared
                    .counters
                    .conflicts
                    .fetch_add(1, Ordering::Relaxed);
                let _ = request.reply.send(Err(err));
                continue;
            }
            seq += 1;
            // Recorded before applying so later members of this group validate against it.
            // If the storage commit then fails, the stale entries only cause spurious
            // conflicts, never missed ones.
            self.window.record(seq, &request.writes);
            accepted.push((seq, request));
        }
        if accepted.is_empty() {
            return;
        }
        let before = (
            self.state.changelog_len,
            self.state.changelog_trimmed_through,
        );
        let retention_table: Arc<str> = crate::layout::RETENTION_TABLE.into();
        if accepted
            .iter()
            .any(|(_, request)| request.writes.tables.contains_key(&retention_table))
        {
            self.state.retention_settings = None;
        }
        match self.apply(&mut accepted, seq) {
            Ok(()) => {
                self.state.last_seq = seq;
                self.publish(seq, accepted.len());
                for (seq, request) in accepted {
                    let _ = request.reply.send(Ok(seq));
                }
            }
            Err(err) => {
                (
                    self.state.changelog_len,
                    self.state.changelog_trimmed_through,
                ) = before;
                self.state.retention_settings = None;
                let detail = err.to_string();
                let disabled = match &err {
                    EngineError::Storage(storage) if storage.disables_store() => {
                        // The data file is reopened at the next write; the shared read view
                        // belongs to the old one.
                        self.shared.views.release();
                        Some(storage)
                    }
                    _ => None,
                };
                for (_, request) in accepted {
                    let storage = match disabled {
                        // Each waiter gets the cause (a full disk), not a generic failure.
                        Some(StorageError::DiskFull { detail }) => StorageError::DiskFull {
                            detail: detail.clone(),
                        },
                        Some(StorageError::IoFailed { detail }) => StorageError::IoFailed {
                            detail: detail.clone(),
                        },
                        _ => StorageError::Engine {
                            operation: "group commit",
                            detail: detail.clone(),
                        },
                    };
                    let _ = request.reply.send(Err(EngineError::Storage(storage)));
                }
            }
        }
        let needed_after = {
            let active = self.shared.active.lock();
            let oldest_live = active.keys().next().copied();
            oldest_live
                .unwrap_or(self.state.last_seq)
                .min(self.state.last_seq)
        };
        self.window.prune(needed_after);
    }

    fn publish(&self, seq: u64, transactions: usize) {
        let counters = &self.shared.counters;
        counters
            .transactions
            .fetch_add(transactions as u64, Ordering::Relaxed);
        counters.groups.fetch_add(1, Ordering::Relaxed);
        {
            let _guard = self.shared.committed_lock.lock();
            self.shared.published_seq.store(seq, Ordering::Release);
            self.shared.committed.notify_all();
        }
        self.shared.views.release();
    }

    /// Applies every accepted request and commits once.
    fn apply(&mut self, accepted: &mut [(u64, CommitRequest)], last_seq: u64) -> Result<()> {
        let txn = self.shared.store.begin_write()?;
        // Requests are applied in runs: a request that drops tables must see every earlier
        // write applied first and hide none of the later ones.
        let mut run_start = 0;
        for i in 0..accepted.len() {
            if !accepted[i].1.writes.dropped_prefixes.is_empty() {
                apply_run(&txn, &self.shared.codecs, &mut accepted[run_start..i])?;
                drop_tables(&txn, &accepted[i].1.writes.dropped_prefixes)?;
                run_start = i;
            }
        }
        apply_run(&txn, &self.shared.codecs, &mut accepted[run_start..])?;
        self.append_changes(&txn, accepted)?;
        debug_assert!(accepted.last().is_some_and(|(seq, _)| *seq == last_seq));
        // No counters are rewritten per commit: the change log's last key is the last sequence
        // number and its first key tells how far retention trimmed (see `log_bounds`).
        txn.commit()?;
        Ok(())
    }

    fn append_changes(
        &mut self,
        txn: &WriteTxn,
        accepted: &mut [(u64, CommitRequest)],
    ) -> Result<()> {
        let now = DateTime::now();
        let mut log = txn.table(CHANGELOG_TABLE)?;
        // Superseded versions first: each names a record of an earlier group.
        let fills = accepted
            .iter()
            .flat_map(|(_, request)| &request.writes.fills);
        let unfilled = crate::elided::apply_fills(&mut log, fills)?;
        if !unfilled.is_empty() {
            // Records retention trimmed: a collection's kept history may hold them.
            let settings = self.retention_settings(txn)?;
            for fill in unfilled {
                crate::retention::fill_kept(txn, settings, fill)?;
            }
        }
        let mut appended = 0u64;
        for (seq, request) in accepted.iter_mut() {
            for (index, change) in request.changes.iter_mut().enumerate() {
                // A transaction holds at most MAX_TXN_OPS changes plus one per key it wrote in a
                // primary extension table (bounded by MAX_TXN_WRITE_BYTES), far below u32::MAX.
                change.seal(now, *seq, index as u32);
                log.put(&changelog_key(*seq, index as u32), &change.body)?;
                appended += 1;
            }
        }
        self.state.changelog_len += appended;
        let excess = self
            .state
            .changelog_len
            .saturating_sub(self.state.changelog_retention);
        if excess == 0 {
            return Ok(());
        }
        let settings = self.retention_settings(txn)?.clone();
        let trimmed_before = self.state.changelog_trimmed_through;
        let mut kept = crate::retention::Trimmed::new();
        let quota = excess.min(MAX_TRIM_PER_COMMIT as u64 + appended) as usize;
        // One pass: the records a collection's own retention still wants are copied to its
        // kept history as the range delete finds them (`retention.rs`).
        let removed =
            log.delete_range_with(Bound::Unbounded, Bound::Unbounded, quota, |key, record| {
                if !settings.is_empty() {
                    crate::retention::take(&settings, &mut kept, key, record);
                }
            })?;
        self.state.changelog_len -= removed as u64;
        let first = log.first()?.and_then(|(key, _)| parse_changelog_key(&key));
        if let Some((seq, index)) = first {
            // A commit whose first changes were trimmed counts as trimmed as a whole.
            let through = if index == 0 { seq - 1 } else { seq };
            self.state.changelog_trimmed_through =
                self.state.changelog_trimmed_through.max(through);
        }
        drop(log);
        if kept.is_empty() {
            return Ok(());
        }
        crate::retention::keep(txn, &settings, kept, trimmed_before)
    }

    /// The per-collection retention settings, read in `txn` (after its group's writes) unless
    /// cached.
    fn retention_settings(&mut self, txn: &WriteTxn) -> Result<&crate::retention::Settings> {
        if self.state.retention_settings.is_none() {
            self.state.retention_settings = Some(crate::retention::load_settings(txn)?);
        }
        Ok(self
            .state
            .retention_settings
            .get_or_insert_with(Default::default))
    }
}

/// The last sequence number retention has removed (wholly or in part), given the log's first
/// remaining key. A commit whose first changes were trimmed counts as trimmed as a whole.
pub(crate) fn trimmed_through((first_seq, first_index): (u64, u32)) -> u64 {
    if first_index == 0 {
        first_seq.saturating_sub(1)
    } else {
        first_seq
    }
}

/// (last sequence number, trimmed-through sequence number) from the change log's first and
/// last keys; (0, 0) for an empty log, which only a database without commits has.
pub(crate) fn log_bounds(first: Option<(u64, u32)>, last: Option<(u64, u32)>) -> (u64, u64) {
    let last_seq = last.map_or(0, |(seq, _)| seq);
    (last_seq, first.map_or(0, trimmed_through))
}

/// Applies the write sets of consecutive requests, one table at a time, in request order.
fn apply_run(txn: &WriteTxn, codecs: &Codecs, run: &mut [(u64, CommitRequest)]) -> Result<()> {
    let tables: BTreeSet<_> = run
        .iter()
        .flat_map(|(_, request)| request.writes.tables.keys().cloned())
        .collect();
    for table in tables {
        let mut writer = txn.table(&table)?;
        if codecs.packed() && is_docs_table(&table) {
            apply_packed(&mut writer, codecs, &table, run)?;
            continue;
        }
        for (seq, request) in run.iter_mut() {
            let Some(entries) = request.writes.tables.get_mut(&table) else {
                continue;
            };
            for (key, pending) in entries.iter_mut() {
                match pending {
                    Pending::Put {
                        value,
                        stamp_seq: stamp,
                    } => {
                        if *stamp {
                            stamp_seq(value, *seq);
                        }
                        writer.put(key, value)?;
                    }
                    Pending::Delete => {
                        writer.delete(key)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies the document writes of consecutive requests to a packed documents table: the
/// final state of each key (later requests win), stamped with its commit's sequence number,
/// goes into its run in one pass (`packed::apply`).
fn apply_packed(
    writer: &mut cairn_storage::TableWriter<'_>,
    codecs: &Codecs,
    table: &Arc<str>,
    run: &mut [(u64, CommitRequest)],
) -> Result<()> {
    let mut changes = BTreeMap::new();
    let mut owner: Option<Arc<str>> = None;
    for (seq, request) in run.iter_mut() {
        if let Some(name) = request.writes.packed_owners.get(table) {
            owner = Some(name.clone());
        }
        let Some(entries) = request.writes.tables.get_mut(table) else {
            continue;
        };
        for (key, pending) in std::mem::take(entries) {
            let change = match pending {
                Pending::Put {
                    mut value,
                    stamp_seq: stamp,
                } => {
                    if stamp {
                        stamp_seq(&mut value, *seq);
                    }
                    Some(value)
                }
                Pending::Delete => None,
            };
            changes.insert(key, change);
        }
    }
    let id = table
        .strip_prefix('c')
        .and_then(|rest| rest.strip_suffix(".docs"))
        .and_then(|id| id.parse().ok())
        .unwrap_or(0);
    let owner = RunOwner {
        id,
        name: owner.as_deref().unwrap_or(""),
    };
    crate::packed::apply(writer, codecs, table, owner, changes)
}

fn drop_tables(txn: &WriteTxn, prefixes: &[String]) -> Result<()> {
    for name in txn.table_names()? {
        if prefixes
            .iter()
            .any(|prefix| name.starts_with(prefix.as_str()))
        {
            txn.delete_table(&name)?;
        }
    }
    Ok(())
}
