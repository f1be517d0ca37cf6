//! Transactions: snapshot reads, buffered writes, validation at commit.
//!
//! A transaction reads a consistent snapshot overlaid with its own pending writes
//! (read-your-own-writes), and records every key and range it read. On commit the writer
//! checks that nothing it read has been changed by a commit newer than its snapshot, then
//! applies its writes atomically. The result is **serializable** isolation for everything read
//! through this API (point reads and scans); a transaction that would break it fails with
//! [`EngineError::Conflict`] and can simply be retried.
//!
//! Every operation is atomic within the transaction: if it fails (duplicate id, a patch that
//! does not apply, an extension refusing the write), the transaction is left exactly as before
//! that operation and stays usable.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::{DocId, FieldPath, Object, Patch, Value};
use cairn_storage::{Snapshot, TableReader};

use crate::catalog::CollectionMeta;
use crate::changelog::PendingChange;
use crate::collection::CollectionHandle;
use crate::committer::SnapshotRegistration;
use crate::db_inner::DbInner;
use crate::error::{EngineError, Result};
use crate::extension::ScanStep;
use crate::extension::{DocChange, ExtensionTxn};
use crate::layout::parse_changelog_key;
use crate::limits::{MAX_TXN_OPS, MAX_TXN_WRITE_BYTES};
use crate::merge_scan::{merge_scan, merge_scan_toward, Direction, Stored};
use crate::record::{decode_record, RecordAt};
use crate::view_state::ViewState;
use crate::writeset::{Pending, ReadSet, WriteSet};

/// The hasher of a transaction's small lookup maps.
type FastHash = foldhash::fast::RandomState;

/// Tables a transaction's reader map has room for from the start (a capacity, not a limit): a
/// query reads the documents table and a few index tables, and growing the map from its
/// default size re-hashes it on the way.
const READERS_CAPACITY: usize = 8;

/// A document as read for a write: its stored record (for the change log's old value) and its
/// decoded value (for patches and extensions).
pub(crate) struct StoredDoc {
    pub(crate) record: Vec<u8>,
    pub(crate) value: Value,
}

/// What [`Transaction::compare_and_swap`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CasOutcome {
    /// Every expected value matched; the patch was applied. Holds the new document.
    Applied(Value),
    /// A field did not hold the expected value; nothing was written.
    Mismatch {
        /// The first field that differed.
        field: String,
        /// What it actually held (`None` when missing).
        actual: Option<Value>,
    },
    /// The document does not exist; nothing was written.
    NotFound,
}

/// A transaction handed to the writer by [`Transaction::commit_async`].
#[must_use = "a commit is acknowledged only by `wait`"]
pub struct PendingCommit {
    outcome: PendingOutcome,
}

enum PendingOutcome {
    Done(u64),
    Queued(crossbeam_channel::Receiver<Result<u64>>),
}

impl PendingCommit {
    /// Waits for the commit; returns its sequence number once it is committed under the
    /// storage mode.
    pub fn wait(self) -> Result<u64> {
        match self.outcome {
            PendingOutcome::Done(seq) => Ok(seq),
            PendingOutcome::Queued(receiver) => receiver.recv().map_err(|_| EngineError::Closed)?,
        }
    }
}

/// What [`Transaction::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// No document had the id; it was inserted.
    Inserted,
    /// A document with the id was replaced.
    Replaced,
}

/// One undoable step, for rolling an operation back inside the transaction.
struct Undo {
    table: Arc<str>,
    key: Vec<u8>,
    previous: Option<Pending>,
}

/// Where an operation started, to roll back to on failure.
struct Mark {
    undo: usize,
    changes: usize,
    dropped: usize,
    ops: usize,
}

/// A serializable transaction over one database. Dropping it without committing discards it.
pub struct Transaction {
    pub(crate) db: Arc<DbInner>,
    snapshot: Snapshot,
    /// What is derived from the snapshot's shared storage view (see `view_state.rs`).
    view: Arc<ViewState>,
    snapshot_seq: u64,
    registration: SnapshotRegistration,
    // Looked up several times per query: foldhash (random per-process seed), not SipHash.
    readers: HashMap<Arc<str>, Option<TableReader>, FastHash>,
    collections: HashMap<Arc<str>, Arc<CollectionHandle>, FastHash>,
    pub(crate) writes: WriteSet,
    reads: ReadSet,
    pub(crate) changes: Vec<PendingChange>,
    /// Primary extension tables written, whose net writes the commit logs (`extension.rs`).
    pub(crate) primary_writes: Vec<crate::extension::PrimaryWrites>,
    undo: Vec<Undo>,
    ops: usize,
    /// Collections this transaction wrote documents in, by (id, name), for the commit-time
    /// checks. Not undone with an operation: a collection whose writes were all rolled back
    /// simply has no net changes.
    pub(crate) written_collections: Vec<(u32, String)>,
    /// How deeply extension-made writes are nested now (see `MAX_CASCADE_DEPTH`).
    pub(crate) cascade_depth: usize,
    /// Decoded documents written in collections checked at commit, so the commit-time checks
    /// need not re-read and re-decode them (see `commit_check.rs`).
    pub(crate) commit_cache: crate::commit_check::CommitCache,
}

impl Transaction {
    /// Begins a read-only transaction: one consistent snapshot, reads not recorded, writes
    /// refused. Long queries run here so they never conflict and never hold read sets.
    pub(crate) fn begin_read(db: Arc<DbInner>) -> Result<Transaction> {
        let mut txn = Transaction::begin(db)?;
        txn.reads.untracked = true;
        Ok(txn)
    }

    pub(crate) fn begin(db: Arc<DbInner>) -> Result<Transaction> {
        // Registered before the snapshot is taken, so the registered number is never above it.
        let registration = SnapshotRegistration::new(db.shared.clone());
        let snapshot = db.shared.store.snapshot()?;
        let view = snapshot.derived(ViewState::default);
        let seq = registration.seq();
        let mut txn = Transaction::on_snapshot(db, snapshot, view, seq, registration);
        txn.snapshot_seq = txn.read_snapshot_seq()?;
        debug_assert!(txn.snapshot_seq >= txn.registration.seq());
        Ok(txn)
    }

    /// The last commit the snapshot contains: its last change-log key, read once per shared
    /// storage view.
    fn read_snapshot_seq(&mut self) -> Result<u64> {
        if let Some(seq) = self.view.seq.get() {
            return Ok(*seq);
        }
        let log = self.db.tables.changelog.clone();
        let last = match self.reader(&log)? {
            Some(reader) => reader.last()?,
            None => None,
        };
        let seq = last
            .and_then(|(key, _)| parse_changelog_key(&key))
            .map_or(0, |(seq, _)| seq);
        Ok(*self.view.seq.get_or_init(|| seq))
    }

    /// Sequence number of the commit this transaction's snapshot shows.
    pub fn snapshot_seq(&self) -> u64 {
        self.snapshot_seq
    }

    /// Whether the transaction records what it reads, to validate it at commit. False only
    /// for read-only snapshots ([`crate::Database::read`]), which also refuse every write: such
    /// a transaction sees exactly its storage snapshot, so a reader may serve it from a cache
    /// keyed by what that snapshot holds (the spatial index's bucket cache does).
    pub fn records_reads(&self) -> bool {
        !self.reads.untracked
    }

    /// A read-only transaction on this transaction's snapshot (see
    /// [`Transaction::fork_background`]).
    pub(crate) fn fork_read(&self) -> Transaction {
        let mut txn = Transaction::on_snapshot(
            self.db.clone(),
            self.snapshot.clone(),
            self.view.clone(),
            self.snapshot_seq,
            self.registration.duplicate(),
        );
        txn.reads.untracked = true;
        txn
    }

    /// A transaction with nothing buffered on `snapshot`.
    fn on_snapshot(
        db: Arc<DbInner>,
        snapshot: Snapshot,
        view: Arc<ViewState>,
        snapshot_seq: u64,
        registration: SnapshotRegistration,
    ) -> Transaction {
        Transaction {
            db,
            snapshot,
            view,
            snapshot_seq,
            registration,
            readers: HashMap::with_capacity_and_hasher(READERS_CAPACITY, FastHash::default()),
            collections: HashMap::default(),
            writes: WriteSet::default(),
            reads: ReadSet::default(),
            changes: Vec::new(),
            primary_writes: Vec::new(),
            undo: Vec::new(),
            ops: 0,
            written_collections: Vec::new(),
            cascade_depth: 0,
            commit_cache: Default::default(),
        }
    }

    /// Whether the transaction has buffered no change (no write, no change-log record).
    pub fn is_read_only(&self) -> bool {
        self.writes.tables.is_empty()
            && self.writes.dropped_prefixes.is_empty()
            && self.changes.is_empty()
    }

    /// Commits: validates the reads and applies the writes atomically. Returns the commit's
    /// sequence number (the snapshot's, for a read-only transaction) once it is committed under
    /// the storage mode.
    pub fn commit(self) -> Result<u64> {
        self.commit_async()?.wait()
    }

    /// Hands the transaction to the writer and returns at once, so the caller can prepare the
    /// next transaction while this one commits (pipelining a bulk load). Nothing is
    /// acknowledged until [`PendingCommit::wait`] returns `Ok`; a conflict with a commit that
    /// landed in between is reported there, as by [`Transaction::commit`].
    pub fn commit_async(mut self) -> Result<PendingCommit> {
        if self.is_read_only() {
            return Ok(PendingCommit {
                outcome: PendingOutcome::Done(self.snapshot_seq),
            });
        }
        // Commit-time invariants see the final state; a refusal drops the whole transaction.
        self.run_commit_checks()?;
        self.log_primary_writes()?;
        let Transaction {
            db,
            snapshot_seq,
            registration,
            reads,
            writes,
            changes,
            ..
        } = self;
        let receiver = db
            .committer
            .submit(snapshot_seq, registration, reads, writes, changes)?;
        Ok(PendingCommit {
            outcome: PendingOutcome::Queued(receiver),
        })
    }

    /// Discards every buffered change.
    pub fn rollback(self) {}

    // ----- document operations -------------------------------------------------------------

    /// Reads a document.
    pub fn get(&mut self, collection: &str, id: &DocId) -> Result<Option<Value>> {
        let coll = self.collection(collection)?;
        let key = encode_id(id)?;
        let docs = coll.docs.clone();
        let db = self.db.clone();
        let codecs = &db.shared.codecs;
        let at = RecordAt {
            collection,
            key: &key,
        };
        self.note_read(&docs, &key);
        if let Some(pending) = self.writes.get(&docs, &key) {
            return match pending {
                Pending::Put { value, .. } => decode_record(codecs, at, value).map(Some),
                Pending::Delete => Ok(None),
            };
        }
        if self.writes.is_dropped(&docs) {
            return Ok(None);
        }
        let Some(reader) = self.reader(&docs)? else {
            return Ok(None);
        };
        crate::packed::get_any(reader, codecs, &docs, &key, |record| {
            decode_record(codecs, at, record)
        })?
        .transpose()
    }

    /// Inserts a document, generating a time-ordered UUIDv7 `_id` when it has none. Fails with
    /// [`EngineError::DuplicateId`] if the id exists.
    pub fn insert(&mut self, collection: &str, doc: Value) -> Result<DocId> {
        self.atomically(|txn| txn.insert_inner(collection, doc))
    }

    /// Replaces an existing document. The new document may omit `_id`; if it has one it must
    /// match `id`.
    pub fn replace(&mut self, collection: &str, id: &DocId, doc: Value) -> Result<()> {
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let doc = with_id(doc, id)?;
            let (key, old) = txn.existing(&coll, id)?;
            txn.store_doc(&coll, id, key, Some(old), doc)
        })
    }

    /// Applies update operators to an existing document; returns the new document.
    pub fn update(&mut self, collection: &str, id: &DocId, patch: &Patch) -> Result<Value> {
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let (key, old) = txn.existing(&coll, id)?;
            let mut doc = old.value.clone();
            patch.apply(&mut doc)?;
            txn.write_doc(&coll, id, key, Some(old), doc)
        })
    }

    /// Deletes a document; returns whether it existed.
    pub fn delete(&mut self, collection: &str, id: &DocId) -> Result<bool> {
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let key = encode_id(id)?;
            let Some(old) = txn.read_doc(&coll, &key)? else {
                return Ok(false);
            };
            txn.delete_doc(&coll, id, key, old)?;
            Ok(true)
        })
    }

    /// Inserts the document, or replaces the one with the same `_id`.
    pub fn upsert(&mut self, collection: &str, doc: Value) -> Result<Upserted> {
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let id = match doc.as_object().and_then(|obj| obj.get("_id")) {
                Some(value) => DocId::from_value(value)?,
                None => {
                    txn.insert_inner(collection, doc)?;
                    return Ok(Upserted::Inserted);
                }
            };
            let key = encode_id(&id)?;
            match txn.read_doc(&coll, &key)? {
                Some(old) => {
                    txn.store_doc(&coll, &id, key, Some(old), doc)?;
                    Ok(Upserted::Replaced)
                }
                None => {
                    txn.store_doc(&coll, &id, key, None, doc)?;
                    Ok(Upserted::Inserted)
                }
            }
        })
    }

    /// Compare-and-swap: if every `(path, value)` in `expected` matches the stored document
    /// (a missing field matches `null`; numbers compare by value), applies `patch`.
    pub fn compare_and_swap(
        &mut self,
        collection: &str,
        id: &DocId,
        expected: &[(FieldPath, Value)],
        patch: &Patch,
    ) -> Result<CasOutcome> {
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let key = encode_id(id)?;
            let Some(old) = txn.read_doc(&coll, &key)? else {
                return Ok(CasOutcome::NotFound);
            };
            for (path, want) in expected {
                let actual = path.get(&old.value);
                let matches = match actual {
                    Some(actual) => cairn_doc::values_equal(actual, want),
                    None => *want == Value::Null,
                };
                if !matches {
                    return Ok(CasOutcome::Mismatch {
                        field: path.to_string(),
                        actual: actual.cloned(),
                    });
                }
            }
            let mut doc = old.value.clone();
            patch.apply(&mut doc)?;
            txn.write_doc(&coll, id, key, Some(old), doc)
                .map(CasOutcome::Applied)
        })
    }

    /// Visits every document of the collection in `_id` order (this transaction's view),
    /// until `visit` returns false.
    pub fn for_each(
        &mut self,
        collection: &str,
        mut visit: impl FnMut(&DocId, &Value) -> bool,
    ) -> Result<()> {
        self.try_for_each(collection, |id, doc| Ok::<_, EngineError>(visit(id, doc)))
    }

    /// [`Transaction::for_each`] with a visitor that may fail with the caller's own error type
    /// `E`: the first error stops the scan and is returned as it is.
    pub fn try_for_each<E: From<EngineError>>(
        &mut self,
        collection: &str,
        mut visit: impl FnMut(&DocId, &Value) -> Result<bool, E>,
    ) -> Result<(), E> {
        let coll = self.collection(collection)?;
        let docs = coll.docs.clone();
        let db = self.db.clone();
        self.scan(&docs, Bound::Unbounded, Bound::Unbounded, |key, record| {
            let id = DocId::decode_key(key).map_err(|err| EngineError::corrupt(&docs, err))?;
            let at = RecordAt { collection, key };
            let doc = decode_record(&db.shared.codecs, at, record)?;
            visit(&id, &doc)
        })
    }

    /// Metadata of a collection as this transaction sees it (shared: transactions that see the
    /// same catalog entry get the same decoded metadata).
    pub fn collection_meta(&mut self, collection: &str) -> Result<Arc<CollectionMeta>> {
        Ok(self.collection(collection)?.meta.clone())
    }

    // ----- building blocks -----------------------------------------------------------------

    /// Runs `op`; on failure rolls the transaction back to where it was before `op`.
    pub(crate) fn atomically<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.ops += 1;
        if self.ops > MAX_TXN_OPS {
            self.ops -= 1;
            return Err(EngineError::LimitExceeded {
                what: "operations in one transaction",
                actual: MAX_TXN_OPS as u64 + 1,
                limit: MAX_TXN_OPS as u64,
            });
        }
        let mark = Mark {
            undo: self.undo.len(),
            changes: self.changes.len(),
            dropped: self.writes.dropped_prefixes.len(),
            ops: self.ops - 1,
        };
        let result = op(self);
        if result.is_err() {
            self.roll_back_to(mark);
        }
        result
    }

    fn roll_back_to(&mut self, mark: Mark) {
        while self.undo.len() > mark.undo {
            if let Some(undo) = self.undo.pop() {
                self.writes.restore(&undo.table, &undo.key, undo.previous);
            }
        }
        self.changes.truncate(mark.changes);
        self.writes.dropped_prefixes.truncate(mark.dropped);
        self.ops = mark.ops;
        // DDL may have been rolled back: resolve collections afresh.
        self.collections.clear();
    }

    fn insert_inner(&mut self, collection: &str, doc: Value) -> Result<DocId> {
        let coll = self.collection(collection)?;
        let (id, doc) = assign_id(doc)?;
        let key = encode_id(&id)?;
        if self.read_doc(&coll, &key)?.is_some() {
            return Err(EngineError::DuplicateId {
                collection: collection.to_string(),
                id,
            });
        }
        self.store_doc(&coll, &id, key, None, doc)?;
        Ok(id)
    }

    /// Reads a document that must exist; returns its key and the stored document.
    fn existing(&mut self, coll: &CollectionHandle, id: &DocId) -> Result<(Vec<u8>, StoredDoc)> {
        let key = encode_id(id)?;
        match self.read_doc(coll, &key)? {
            Some(old) => Ok((key, old)),
            None => Err(EngineError::DocumentNotFound {
                collection: coll.meta.name.clone(),
                id: id.clone(),
            }),
        }
    }

    /// Reads a document's stored record and decoded value, recording the read.
    fn read_doc(&mut self, coll: &CollectionHandle, key: &[u8]) -> Result<Option<StoredDoc>> {
        let Some(record) = self.read_raw(&coll.docs, key, true)? else {
            return Ok(None);
        };
        let at = RecordAt {
            collection: &coll.meta.name,
            key,
        };
        let value = decode_record(&self.db.shared.codecs, at, &record)?;
        Ok(Some(StoredDoc { record, value }))
    }

    /// Lets each extension rewrite or refuse a document before it is staged; the result must
    /// still carry `id`.
    pub(crate) fn prepare_extensions(
        &mut self,
        coll: &CollectionHandle,
        id: &DocId,
        old: Option<&Value>,
        doc: &mut Value,
    ) -> Result<()> {
        for (name, extension) in &coll.extensions {
            let mut ctx = ExtensionTxn::new(self, coll.meta.id, &coll.meta.name, name);
            extension.prepare_write(&mut ctx, id, old, doc)?;
        }
        let kept = doc
            .as_object()
            .and_then(|obj| obj.get("_id"))
            .map(DocId::from_value);
        match kept {
            Some(Ok(found)) if &found == id => Ok(()),
            _ => Err(EngineError::ExtensionFailed {
                message: format!(
                    "an extension of `{}` changed or removed the `_id` of `{id}`",
                    coll.meta.name
                ),
            }),
        }
    }

    pub(crate) fn run_extensions(
        &mut self,
        coll: &CollectionHandle,
        change: &DocChange<'_>,
    ) -> Result<()> {
        if !self
            .written_collections
            .iter()
            .any(|(id, _)| *id == coll.meta.id)
        {
            self.written_collections
                .push((coll.meta.id, coll.meta.name.clone()));
        }
        for (name, extension) in &coll.extensions {
            let mut ctx = ExtensionTxn::new(self, coll.meta.id, &coll.meta.name, name);
            extension.on_write(&mut ctx, change)?;
        }
        Ok(())
    }

    /// Resolves a collection by name as this transaction sees it, recording the catalog read
    /// so a concurrent drop or rename conflicts with this transaction.
    pub(crate) fn collection(&mut self, name: &str) -> Result<Arc<CollectionHandle>> {
        if let Some(handle) = self.collections.get(name) {
            return Ok(handle.clone());
        }
        let catalog = self.db.tables.catalog.clone();
        // With no pending catalog change, this transaction's catalog is its view's.
        let view_catalog =
            self.writes.dropped_prefixes.is_empty() && !self.writes.tables.contains_key(&catalog);
        if view_catalog {
            if let Some(handle) = self.view.collection(name) {
                self.note_read(&catalog, name.as_bytes());
                self.remember(name, &handle);
                return Ok(handle);
            }
        }
        let Some(bytes) = self.read_raw(&catalog, name.as_bytes(), true)? else {
            return Err(EngineError::UnknownCollection {
                name: name.to_string(),
            });
        };
        let handle = match self.db.handles.get(name, &bytes) {
            Some(handle) => handle,
            None => {
                let meta = CollectionMeta::decode(&bytes)?;
                let handle = Arc::new(self.db.collection_handle(meta)?);
                self.db.handles.put(name, bytes, handle.clone());
                handle
            }
        };
        if view_catalog {
            self.view.remember_collection(name, &handle);
        }
        self.remember(name, &handle);
        Ok(handle)
    }

    /// Keeps a resolved collection for this transaction's later lookups, keyed by the handle's
    /// shared name (no allocation) when it is the name asked for.
    fn remember(&mut self, name: &str, handle: &Arc<CollectionHandle>) {
        let key = if &*handle.name == name {
            handle.name.clone()
        } else {
            Arc::from(name)
        };
        self.collections.insert(key, handle.clone());
    }

    /// Forgets resolved collections after a DDL change in this transaction.
    pub(crate) fn invalidate_collections(&mut self) {
        self.collections.clear();
    }

    // ----- raw table access ------------------------------------------------------------------

    /// The snapshot's reader of `table` (`None` when the table does not exist in it), opened
    /// once per transaction: one map lookup per call.
    pub(crate) fn reader(&mut self, table: &Arc<str>) -> Result<Option<&TableReader>> {
        use std::collections::hash_map::Entry;
        let reader = match self.readers.entry(table.clone()) {
            Entry::Occupied(found) => found.into_mut(),
            Entry::Vacant(slot) => slot.insert(self.snapshot.table(table)?),
        };
        Ok(reader.as_ref())
    }

    pub(crate) fn note_read(&mut self, table: &Arc<str>, key: &[u8]) {
        self.reads.point(table, key);
    }

    /// Reads a key through this transaction's pending writes, then its snapshot.
    pub(crate) fn read_raw(
        &mut self,
        table: &Arc<str>,
        key: &[u8],
        track: bool,
    ) -> Result<Option<Vec<u8>>> {
        self.read_with(table, key, track, |value| Ok(value.to_vec()))
    }

    /// [`Transaction::read_raw`] handing the value to `read` where it lies (a pending write,
    /// or the snapshot's page) instead of copying it out: a document read decodes in place.
    pub(crate) fn read_with<R>(
        &mut self,
        table: &Arc<str>,
        key: &[u8],
        track: bool,
        read: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<Option<R>> {
        if track {
            self.reads.point(table, key);
        }
        if let Some(pending) = self.writes.get(table, key) {
            return match pending {
                Pending::Put { value, .. } => read(value).map(Some),
                Pending::Delete => Ok(None),
            };
        }
        if self.writes.is_dropped(table) {
            return Ok(None);
        }
        self.stored_get_with(table, key, read)
    }

    /// Reads a key from the snapshot alone (through its run when `table` holds packed
    /// documents), copying the value out.
    pub(crate) fn stored_get(&mut self, table: &Arc<str>, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.stored_get_with(table, key, |value| Ok(value.to_vec()))
    }

    /// [`Transaction::stored_get`] handing the value to `read` in place.
    fn stored_get_with<R>(
        &mut self,
        table: &Arc<str>,
        key: &[u8],
        read: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<Option<R>> {
        let db = self.db.clone();
        match self.reader(table)? {
            Some(reader) => {
                crate::packed::get_any(reader, &db.shared.codecs, table, key, read)?.transpose()
            }
            None => Ok(None),
        }
    }

    /// Buffers a write, enforcing the transaction size limit and keeping undo information.
    pub(crate) fn write_raw(
        &mut self,
        table: &Arc<str>,
        key: Vec<u8>,
        pending: Pending,
    ) -> Result<()> {
        self.buffer_write(table, key, pending).map(|_| ())
    }

    /// [`Transaction::write_raw`], returning whether this is the key's first write in the
    /// transaction (it had no buffered write before): the commit-time checks need to know, and
    /// the buffer's own lookup tells for free.
    pub(crate) fn buffer_write(
        &mut self,
        table: &Arc<str>,
        key: Vec<u8>,
        pending: Pending,
    ) -> Result<bool> {
        if self.reads.untracked {
            return Err(EngineError::ReadOnlyTransaction);
        }
        let added = key.len() as u64
            + match &pending {
                Pending::Put { value, .. } => value.len() as u64,
                Pending::Delete => 0,
            };
        if self.writes.size_bytes + added > MAX_TXN_WRITE_BYTES {
            return Err(EngineError::LimitExceeded {
                what: "bytes written by one transaction",
                actual: self.writes.size_bytes + added,
                limit: MAX_TXN_WRITE_BYTES,
            });
        }
        let previous = self.writes.set(table, key.clone(), pending);
        let first_write = previous.is_none();
        self.undo.push(Undo {
            table: table.clone(),
            key,
            previous,
        });
        Ok(first_write)
    }

    /// Drops every table whose name starts with `prefix` at commit, and hides them from this
    /// transaction's reads now.
    pub(crate) fn drop_tables(&mut self, prefix: String) {
        for (table, writes) in self.writes.tables.iter_mut() {
            if table.starts_with(prefix.as_str()) {
                writes.clear();
            }
        }
        self.writes.dropped_prefixes.push(prefix);
    }

    /// Visits a key range through pending writes and the snapshot, merged in key order, until
    /// `visit` returns false (or an error of its own type). The whole range is recorded as read.
    pub(crate) fn scan<E: From<EngineError>>(
        &mut self,
        table: &Arc<str>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.scan_toward(Direction::Forward, table, start, end, visit)
    }

    /// [`Transaction::scan`] in either direction (backwards: descending key order).
    pub(crate) fn scan_toward<E: From<EngineError>>(
        &mut self,
        direction: Direction,
        table: &Arc<str>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.reads.range(table, start, end);
        self.open_for_scan(table)?;
        let (stored, pending) =
            scan_sources(&self.readers, &self.writes, &self.db.shared.codecs, table);
        merge_scan_toward(direction, stored, pending, (start, end), visit)
    }
}

impl Transaction {
    /// Opens `table`'s stored reader for a scan, unless the table was dropped in this
    /// transaction (then only what was written after the drop shows).
    fn open_for_scan(&mut self, table: &Arc<str>) -> Result<()> {
        if !self.writes.is_dropped(table) {
            self.reader(table)?;
        }
        Ok(())
    }
}

/// What a scan of `table` merges, once [`Transaction::open_for_scan`] ran: the stored table
/// (none when dropped in the transaction) and the transaction's pending writes to it. Free
/// of `self`, so a scan can record reads while it holds them.
fn scan_sources<'t>(
    readers: &'t HashMap<Arc<str>, Option<TableReader>, FastHash>,
    writes: &'t WriteSet,
    codecs: &'t crate::compression::Codecs,
    table: &'t Arc<str>,
) -> (
    Option<Stored<'t>>,
    Option<&'t std::collections::BTreeMap<Vec<u8>, Pending>>,
) {
    let stored = if writes.is_dropped(table) {
        None
    } else {
        readers.get(table).and_then(Option::as_ref)
    };
    let stored = stored.map(|reader| Stored::of(reader, codecs, table));
    (stored, writes.tables.get(table))
}

impl Transaction {
    /// The first entry of `table` at or after `key` (seeing pending writes). Recorded as a
    /// read of exactly `[key, found]` (to the end of the table when nothing is found): the
    /// answer depends on nothing else, so writers elsewhere in the table never conflict with
    /// it, where a scan left open to the end would conflict with every later key.
    pub(crate) fn ceiling(
        &mut self,
        table: &Arc<str>,
        key: &[u8],
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.open_for_scan(table)?;
        let (stored, pending) =
            scan_sources(&self.readers, &self.writes, &self.db.shared.codecs, table);
        let mut found = None;
        merge_scan(
            stored,
            pending,
            (Bound::Included(key), Bound::Unbounded),
            |k, v| {
                found = Some((k.to_vec(), v.to_vec()));
                Ok::<_, EngineError>(false)
            },
        )?;
        let end = match &found {
            Some((k, _)) => Bound::Included(k.as_slice()),
            None => Bound::Unbounded,
        };
        self.reads.range(table, Bound::Included(key), end);
        Ok(found)
    }
}

impl Transaction {
    /// A forward scan of `table` from `start` whose visitor steers it: after each entry it
    /// goes on, stops, or seeks ahead to a later key (see [`ScanStep`]). Each stretch walked
    /// between seeks is recorded as read, from where it began to the last key seen (to the
    /// end of the table when the scan ran out); what a seek jumps over is, by the caller's
    /// contract, nothing it depends on, so it is not recorded.
    pub(crate) fn guided_scan<E: From<EngineError>>(
        &mut self,
        table: &Arc<str>,
        start: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<ScanStep, E>,
    ) -> Result<(), E> {
        self.open_for_scan(table)?;
        let (stored, pending) =
            scan_sources(&self.readers, &self.writes, &self.db.shared.codecs, table);
        let tracked = !self.reads.untracked;
        let mut from = start.to_vec();
        loop {
            let mut ended: Option<Pause> = None;
            merge_scan::<E>(
                stored,
                pending,
                (Bound::Included(&from), Bound::Unbounded),
                |key, value| match visit(key, value)? {
                    ScanStep::Next => Ok(true),
                    ScanStep::Stop => {
                        ended = Some(Pause {
                            last: tracked.then(|| key.to_vec()),
                            seek: None,
                        });
                        Ok(false)
                    }
                    // A seek that does not move forward would loop forever: walk on instead.
                    ScanStep::SeekTo(target) if target.as_slice() <= key => Ok(true),
                    ScanStep::SeekTo(target) => {
                        ended = Some(Pause {
                            last: tracked.then(|| key.to_vec()),
                            seek: Some(target),
                        });
                        Ok(false)
                    }
                },
            )?;
            match ended {
                None => {
                    self.reads
                        .range(table, Bound::Included(&from), Bound::Unbounded);
                    return Ok(());
                }
                Some(Pause { last, seek }) => {
                    if let Some(last) = last {
                        self.reads
                            .range(table, Bound::Included(&from), Bound::Included(&last));
                    }
                    match seek {
                        Some(target) => from = target,
                        None => return Ok(()),
                    }
                }
            }
        }
    }
}

/// Where a guided scan's stretch ended: the last key seen (kept only when reads are tracked)
/// and, for a seek, where the next stretch begins.
struct Pause {
    last: Option<Vec<u8>>,
    seek: Option<Vec<u8>>,
}

/// Encodes an id as a document key.
pub(crate) fn encode_id(id: &DocId) -> Result<Vec<u8>> {
    let mut key = Vec::with_capacity(24);
    id.encode_key(&mut key)?;
    Ok(key)
}

/// Takes the document's `_id`, or generates a UUIDv7 and puts it first.
fn assign_id(doc: Value) -> Result<(DocId, Value)> {
    let Value::Object(obj) = doc else {
        return Err(not_an_object(&doc));
    };
    if let Some(value) = obj.get("_id") {
        return Ok((DocId::from_value(value)?, Value::Object(obj)));
    }
    let id = DocId::new_v7();
    Ok((id.clone(), prepend_id(obj, &id)))
}

/// `obj` (which has no `_id`) with `_id` = `id` first. Leaves room for one field a
/// prepare-write hook may add (a schema stamps `_schema_version`), so that stamping does not
/// reallocate the fields.
fn prepend_id(mut obj: Object, id: &DocId) -> Value {
    obj.reserve(2);
    obj.prepend_new("_id", id.to_value());
    Value::Object(obj)
}

/// Ensures the document carries `_id` = `id` (first, when it had none).
pub(crate) fn with_id(doc: Value, id: &DocId) -> Result<Value> {
    let Value::Object(obj) = doc else {
        return Err(not_an_object(&doc));
    };
    match obj.get("_id") {
        Some(value) => {
            let found = DocId::from_value(value)?;
            if &found != id {
                return Err(EngineError::IdMismatch {
                    addressed: id.clone(),
                    found,
                });
            }
            Ok(Value::Object(obj))
        }
        None => Ok(prepend_id(obj, id)),
    }
}

fn not_an_object(doc: &Value) -> EngineError {
    EngineError::Document(cairn_doc::DocError::RootNotObject {
        found: doc.type_name(),
    })
}
