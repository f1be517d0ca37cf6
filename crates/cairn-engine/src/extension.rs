//! The extension point: how secondary indexes and model structures (geometry, vectors, graph,
//! time series, full text) stay in step with documents.
//!
//! An [`ExtensionKind`] is code registered when the database is opened (e.g. "btree index").
//! An instance of a kind is *attached* to a collection under a name with a configuration; the
//! attachment is stored in the catalog, so it survives restarts without rebuilding anything.
//! From then on, every document write in the collection calls [`Extension::on_write`] inside
//! the writing transaction, with the old and new document. The extension reads and writes its
//! own tables through [`ExtensionTxn`]; those writes commit atomically with the document, and
//! an error from the extension fails the operation and leaves no trace of it.
//!
//! Invariants the engine keeps for extensions:
//! * `on_write` sees every change to the collection exactly once, in transaction order.
//! * An extension's tables are private to it (`c{collection}.x.{name}.{table}`) and are
//!   deleted when it is detached or the collection dropped.
//! * [`Extension::prepare_write`] runs before a document is staged and may rewrite or refuse
//!   it; [`Extension::on_write`] runs after. Writes an extension makes to *other* collections
//!   ([`ExtensionTxn::delete_document`], [`ExtensionTxn::update_document`]) run those
//!   collections' extensions too, nested at most [`MAX_CASCADE_DEPTH`] deep.
//! * Reads through `ExtensionTxn` are conflict-checked like any other transaction read, so an
//!   extension enforcing a constraint (e.g. uniqueness) stays correct under concurrency.
//! * An extension that [checks at commit](Extension::checks_at_commit) is called once more
//!   per transaction, at commit, with the transaction's net document changes
//!   ([`Extension::before_commit`]); see `commit_check.rs`.

use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::{DocId, Patch, Value};

use crate::changelog::{ChangeOp, PendingChange};
use crate::error::{EngineError, Result};
use crate::limits::MAX_CASCADE_DEPTH;
use crate::merge_scan::Direction;
use crate::txn::Transaction;
use crate::writeset::Pending;

/// A document change as seen by an extension.
#[derive(Debug, Clone, Copy)]
pub struct DocChange<'a> {
    /// The document's id.
    pub id: &'a DocId,
    /// The document before the change; `None` for an insert.
    pub old: Option<&'a Value>,
    /// The document after the change; `None` for a delete.
    pub new: Option<&'a Value>,
}

/// Maintains derived data for one collection.
pub trait Extension: Send + Sync {
    /// Called for every insert, update and replace *before* the document is encoded and
    /// staged, in attachment order: the extension may rewrite `new` (fill defaults, stamp a
    /// version) or refuse it (validation). `old` is the stored document for an update. The
    /// rewritten document must keep its `_id` (the engine checks). Reads through `txn` are
    /// conflict-checked, so a check that depends on other documents (a reference) stays true
    /// at commit. The default accepts the document unchanged.
    fn prepare_write(
        &self,
        _txn: &mut ExtensionTxn<'_>,
        _id: &DocId,
        _old: Option<&Value>,
        _new: &mut Value,
    ) -> Result<()> {
        Ok(())
    }

    /// Called for every document change, inside the writing transaction and before commit.
    /// Return an error to refuse the change (the error reaches the writer; nothing of the
    /// operation is kept).
    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> Result<()>;

    /// Called once an attach with backfill ([`Transaction::attach_extension`], also what an
    /// incremental restore replays an attach with) has fed every existing document to
    /// [`Extension::on_write`], in the same transaction: the extension's data is complete.
    /// Indexes record that they are ready here. Default: nothing.
    fn backfilled(&self, _txn: &mut ExtensionTxn<'_>) -> Result<()> {
        Ok(())
    }

    /// Whether this extension wants [`Extension::before_commit`]. The engine computes a
    /// transaction's net changes only for collections with such an extension, so extensions
    /// that do not check at commit (indexes) cost nothing there.
    fn checks_at_commit(&self) -> bool {
        false
    }

    /// The top-level fields [`Extension::before_commit`] reads from documents, or `None`
    /// (the default) for whole documents. A transaction keeps what the checks need of every
    /// document it writes until it commits; naming the fields lets the engine keep only them,
    /// so the documents handed to `before_commit` may hold just these fields (whole values,
    /// so any path below them reads as in the stored document). When several extensions of a
    /// collection check at commit, each sees at least its own fields.
    fn commit_fields(&self) -> Option<Vec<String>> {
        None
    }

    /// Called once per transaction, when it commits and before it is handed to the writer,
    /// with the transaction's **net** effect on the collection: one change per document it
    /// wrote, from the document as its snapshot holds it (`old`) to its final state (`new`).
    /// Intermediate states inside the transaction are never shown; a document inserted and
    /// deleted again does not appear. Only called when [`Extension::checks_at_commit`] is true
    /// and the transaction changed at least one document of the collection.
    ///
    /// Reads and writes through `txn` are part of the committing transaction (reads are
    /// conflict-checked); an error rejects the whole transaction and nothing of it is stored.
    /// This is where commit-time invariants (conserved sums, group bounds) are checked.
    fn before_commit(&self, txn: &mut ExtensionTxn<'_>, changes: &[DocChange<'_>]) -> Result<()> {
        let _ = (txn, changes);
        Ok(())
    }

    /// The tables of this extension that hold **primary data**: data no document describes,
    /// written through [`Transaction::extension_put`] / [`Transaction::extension_delete`]
    /// (time-series chunks). Every commit's net writes to these tables are carried by the
    /// change log ([`crate::ChangeOp::ExtensionWrite`], one record per key), so incremental
    /// backups, point-in-time restores and change-log readers see them. Tables derived from
    /// documents (indexes) must not be listed: replaying the documents rebuilds them, and
    /// logging them would store every entry twice. Default: none.
    fn primary_tables(&self) -> &[&'static str] {
        &[]
    }

    /// Whether [`Extension::verify`] checks anything (indexes: yes; schemas and invariants,
    /// which keep no data derived from every document, no). Default: no.
    fn verifies(&self) -> bool {
        false
    }

    /// Compares the extension's own tables with the collection's documents in `txn`'s
    /// snapshot (a read-only one) — what `cairn check` runs for every attached extension
    /// ([`crate::verify_extensions`]) — and describes each mismatch in a sentence (an entry
    /// without its document, a document without its entries), at most a bounded number of
    /// them. `name` is the instance's name. Default: nothing to verify.
    fn verify(&self, txn: &mut Transaction, collection: &str, name: &str) -> Result<Vec<String>> {
        let _ = (txn, collection, name);
        Ok(Vec::new())
    }

    /// The instance as `Any`, so the layer that defined it can reach its own state (say, an
    /// index's statistics) through [`Transaction::extension_instance`]. The default hides it.
    fn as_any(&self) -> &dyn std::any::Any {
        &()
    }
}

/// A kind of extension, registered by name when opening a database.
pub trait ExtensionKind: Send + Sync {
    /// The kind's stable name, stored in the catalog.
    fn kind(&self) -> &str;

    /// Builds an instance from its stored configuration. Must be cheap and must not read data:
    /// instances are built whenever a collection is resolved.
    fn instantiate(
        &self,
        collection: &str,
        name: &str,
        config: &Value,
    ) -> Result<Arc<dyn Extension>>;
}

/// An extension's window into the transaction: its own tables, read and written atomically
/// with the document change that triggered it.
pub struct ExtensionTxn<'t> {
    txn: &'t mut Transaction,
    collection_id: u32,
    collection: &'t str,
    extension: &'t str,
}

impl<'t> ExtensionTxn<'t> {
    pub(crate) fn new(
        txn: &'t mut Transaction,
        collection_id: u32,
        collection: &'t str,
        extension: &'t str,
    ) -> Self {
        ExtensionTxn {
            txn,
            collection_id,
            collection,
            extension,
        }
    }

    /// The collection being written.
    pub fn collection(&self) -> &str {
        self.collection
    }

    /// This extension's instance name.
    pub fn extension(&self) -> &str {
        self.extension
    }

    fn table(&self, table: &str) -> Arc<str> {
        self.txn
            .db
            .extension_table(self.collection_id, self.extension, table)
    }

    /// Reads a key of one of this extension's tables (seeing this transaction's writes).
    pub fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let table = self.table(table);
        self.txn.read_raw(&table, key, true)
    }

    /// Writes a key of one of this extension's tables.
    pub fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let table = self.table(table);
        self.txn.write_raw(
            &table,
            key.to_vec(),
            Pending::Put {
                value: value.to_vec(),
                stamp_seq: false,
            },
        )
    }

    /// Deletes a key of one of this extension's tables.
    pub fn delete(&mut self, table: &str, key: &[u8]) -> Result<()> {
        let table = self.table(table);
        self.txn.write_raw(&table, key.to_vec(), Pending::Delete)
    }

    /// Visits the entries of one of this extension's tables within `(start, end)` in key order
    /// until `visit` returns false or an error of the caller's own type `E`.
    pub fn scan<E: From<EngineError>>(
        &mut self,
        table: &str,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        let table = self.table(table);
        self.txn.scan(&table, start, end, visit)
    }

    /// The first entry of one of this extension's tables at or after `key` (seeing this
    /// transaction's writes), conflict-checked over exactly the keys it spans (see
    /// [`Transaction::extension_ceiling`]).
    pub fn ceiling(&mut self, table: &str, key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let table = self.table(table);
        self.txn.ceiling(&table, key)
    }

    /// Reads a document of any collection (conflict-checked, seeing this transaction's
    /// writes), e.g. to check that a referenced document exists.
    pub fn get_document(&mut self, collection: &str, id: &DocId) -> Result<Option<Value>> {
        self.txn.get(collection, id)
    }

    /// Visits, within `(start, end)`, the entries of an extension table of *another*
    /// collection (say, its index on a reference field, to find referring documents); the
    /// range is conflict-checked like any read.
    pub fn scan_extension_of<E: From<EngineError>>(
        &mut self,
        (collection, extension, table): (&str, &str, &str),
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.txn
            .extension_range(collection, extension, table, start, end, visit)
    }

    /// Deletes a document of any collection as a consequence of this write (a cascading
    /// delete); its own extensions run, so cascades nest up to [`MAX_CASCADE_DEPTH`].
    pub fn delete_document(&mut self, collection: &str, id: &DocId) -> Result<bool> {
        self.cascade(|txn| txn.delete(collection, id))
    }

    /// Updates a document of any collection as a consequence of this write (say, setting a
    /// reference to null); its own extensions run, with the same depth limit as deletes.
    pub fn update_document(
        &mut self,
        collection: &str,
        id: &DocId,
        patch: &Patch,
    ) -> Result<Value> {
        self.cascade(|txn| txn.update(collection, id, patch))
    }

    fn cascade<T>(&mut self, op: impl FnOnce(&mut Transaction) -> Result<T>) -> Result<T> {
        if self.txn.cascade_depth >= MAX_CASCADE_DEPTH {
            return Err(crate::error::EngineError::LimitExceeded {
                what: "depth of cascading writes",
                actual: MAX_CASCADE_DEPTH as u64 + 1,
                limit: MAX_CASCADE_DEPTH as u64,
            });
        }
        self.txn.cascade_depth += 1;
        let result = op(self.txn);
        self.txn.cascade_depth -= 1;
        result
    }
}

impl Transaction {
    /// Visits the entries of one extension table of a collection within `(start, end)`, in key
    /// order, until `visit` returns false or an error of the caller's own type `E` (which is
    /// returned as it is). This is how higher layers (a query planner reading
    /// an index) read what an extension maintains; the range is conflict-checked like any read.
    pub fn extension_range<E: From<EngineError>>(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.extension_range_toward(
            Direction::Forward,
            collection,
            extension,
            table,
            (start, end),
            visit,
        )
    }

    /// [`Transaction::extension_range`] in either direction: backwards, entries come in
    /// descending key order (an index read backwards serves a descending sort). Recorded as a
    /// read of the same range either way.
    pub fn extension_range_toward<E: From<EngineError>>(
        &mut self,
        direction: Direction,
        collection: &str,
        extension: &str,
        table: &str,
        (start, end): (Bound<&[u8]>, Bound<&[u8]>),
        visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        let table = self.attached_table(collection, extension, table)?;
        self.scan_toward(direction, &table, start, end, visit)
    }

    /// Scans one extension table forward from `start`, steered by `visit`: after each entry
    /// it returns [`ScanStep::Next`], [`ScanStep::Stop`], or [`ScanStep::SeekTo`] a later key.
    /// A seek costs one B-tree descent, a step a fraction of that, so a reader that knows
    /// which keys it needs (a spatial index walking the Morton cells of a query box) walks
    /// short gaps and jumps over long ones. Pending writes of this transaction are seen; every
    /// stretch actually walked is conflict-checked like any read.
    pub fn extension_guided_scan<E: From<EngineError>>(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
        start: &[u8],
        visit: impl FnMut(&[u8], &[u8]) -> Result<ScanStep, E>,
    ) -> Result<(), E> {
        let table = self.attached_table(collection, extension, table)?;
        self.guided_scan(&table, start, visit)
    }
}

/// A primary table (see [`Extension::primary_tables`]) this transaction wrote, noted for
/// [`Transaction::log_primary_writes`].
#[derive(Debug)]
pub(crate) struct PrimaryWrites {
    /// The storage table.
    table: Arc<str>,
    /// The collection's id and its name when the table was first written.
    collection_id: u32,
    collection: String,
    /// The extension's instance name and its own name for the table.
    extension: String,
    extension_table: String,
}

/// What a guided scan ([`Transaction::extension_guided_scan`]) does after visiting an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStep {
    /// Go on to the next entry.
    Next,
    /// Continue from the first entry at or after this key; entries before it are skipped.
    /// Must be greater than the key just visited (otherwise the scan just goes on).
    SeekTo(Vec<u8>),
    /// End the scan.
    Stop,
}

/// Size figures of one extension table, as of a transaction's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtensionTableStats {
    /// Number of entries.
    pub entries: u64,
    /// Bytes of pages the table occupies (payload plus B-tree overhead).
    pub bytes: u64,
}

/// Access for code that builds or reads an extension's data outside `on_write`: online index
/// builds that fill an extension attached with
/// [`crate::Database::attach_extension_unfilled`], and query planners.
impl Transaction {
    fn attached_table(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
    ) -> Result<Arc<str>> {
        let coll = self.collection(collection)?;
        if !coll.extensions.iter().any(|(name, _)| name == extension) {
            return Err(crate::error::EngineError::ExtensionState {
                collection: collection.to_string(),
                name: extension.to_string(),
                reason: "not attached",
            });
        }
        Ok(self.db.extension_table(coll.meta.id, extension, table))
    }

    /// [`Transaction::attached_table`] for a write: also notes the table when the extension
    /// declares it primary, so the commit logs its net writes (see
    /// [`Transaction::log_primary_writes`]).
    fn table_for_write(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
    ) -> Result<Arc<str>> {
        let name = self.attached_table(collection, extension, table)?;
        let coll = self.collection(collection)?;
        let primary = coll
            .extensions
            .iter()
            .find(|(name, _)| name == extension)
            .is_some_and(|(_, ext)| ext.primary_tables().contains(&table));
        if primary && !self.primary_writes.iter().any(|w| w.table == name) {
            self.primary_writes.push(PrimaryWrites {
                table: name.clone(),
                collection_id: coll.meta.id,
                collection: coll.meta.name.clone(),
                extension: extension.to_string(),
                extension_table: table.to_string(),
            });
        }
        Ok(name)
    }

    /// Appends one [`ChangeOp::ExtensionWrite`] record per key this transaction wrote in a
    /// primary table (its net write: the last value, or the delete), after every other change
    /// of the commit. Run once, when the transaction commits: logging the net writes rather
    /// than every put keeps a chunk rewritten by many appends in one transaction to one record.
    /// Replay applies them after the commit's other changes, which is exact because every
    /// other change either leaves these tables alone or (a drop, a detach) removes the
    /// writes made before it from the write set.
    pub(crate) fn log_primary_writes(&mut self) -> Result<()> {
        for noted in std::mem::take(&mut self.primary_writes) {
            let Some(writes) = self.writes.tables.get(&noted.table) else {
                continue;
            };
            if writes.is_empty() {
                continue;
            }
            let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = writes
                .iter()
                .map(|(key, pending)| {
                    let value = match pending {
                        Pending::Put { value, .. } => Some(value.clone()),
                        Pending::Delete => None,
                    };
                    (key.clone(), value)
                })
                .collect();
            // The collection's name as the commit leaves it (a rename after the writes).
            let Some(collection) = self.name_of(noted.collection_id, &noted.collection)? else {
                continue;
            };
            for (key, value) in writes {
                let op = ChangeOp::ExtensionWrite {
                    name: noted.extension.clone(),
                    table: noted.extension_table.clone(),
                    key,
                    value,
                };
                let change =
                    PendingChange::encode(&op, noted.collection_id, &collection, None, None, None);
                self.changes.push(change);
            }
        }
        Ok(())
    }

    /// The name collection `id` has in this transaction (`hint`, its name when last seen,
    /// unless renamed since); `None` when it no longer exists.
    fn name_of(&mut self, id: u32, hint: &str) -> Result<Option<String>> {
        match self.collection(hint) {
            Ok(coll) if coll.meta.id == id => return Ok(Some(hint.to_string())),
            Ok(_) | Err(EngineError::UnknownCollection { .. }) => {}
            Err(err) => return Err(err),
        }
        Ok(self
            .list_collections()?
            .into_iter()
            .find(|meta| meta.id == id)
            .map(|meta| meta.name))
    }

    /// The live instance of an attached extension, or `None` when none is attached under
    /// that name.
    pub fn extension_instance(
        &mut self,
        collection: &str,
        extension: &str,
    ) -> Result<Option<Arc<dyn Extension>>> {
        let coll = self.collection(collection)?;
        Ok(coll
            .extensions
            .iter()
            .find(|(name, _)| name == extension)
            .map(|(_, ext)| ext.clone()))
    }

    /// Writes a key of an attached extension's table (a builder filling it in).
    pub fn extension_put(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        let table = self.table_for_write(collection, extension, table)?;
        self.note_extension_data(collection, extension)?;
        self.write_raw(
            &table,
            key.to_vec(),
            Pending::Put {
                value: value.to_vec(),
                stamp_seq: false,
            },
        )
    }

    /// The first entry of an attached extension's table at or after `key` (seeing pending
    /// writes). Recorded as a read of exactly `[key, found]`, so only a write between the two
    /// conflicts with it: the read a store packing entries into pages needs to find the page
    /// a key belongs to.
    pub fn extension_ceiling(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
        key: &[u8],
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let table = self.attached_table(collection, extension, table)?;
        self.ceiling(&table, key)
    }

    /// Deletes a key of an attached extension's table (a builder rewriting what it stored).
    pub fn extension_delete(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
        key: &[u8],
    ) -> Result<()> {
        let table = self.table_for_write(collection, extension, table)?;
        self.note_extension_data(collection, extension)?;
        self.write_raw(&table, key.to_vec(), Pending::Delete)
    }

    /// Every commit needs a change record (see `ChangeOp::ExtensionData`): a transaction that
    /// writes only extension data gets one.
    fn note_extension_data(&mut self, collection: &str, extension: &str) -> Result<()> {
        if self.changes.is_empty() {
            let meta = self.collection(collection)?.meta.clone();
            self.log_ddl(
                &ChangeOp::ExtensionData {
                    name: extension.to_string(),
                },
                &meta,
            );
        }
        Ok(())
    }

    /// Reads a key of an attached extension's table (recorded as read).
    pub fn extension_get(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let table = self.attached_table(collection, extension, table)?;
        self.read_raw(&table, key, true)
    }

    /// Entry count and size of an attached extension's table in this transaction's snapshot
    /// (pending writes not included); zero for a table never written.
    pub fn extension_table_stats(
        &mut self,
        collection: &str,
        extension: &str,
        table: &str,
    ) -> Result<ExtensionTableStats> {
        let table = self.attached_table(collection, extension, table)?;
        let Some(reader) = self.reader(&table)? else {
            return Ok(ExtensionTableStats::default());
        };
        let stats = reader.stats()?;
        Ok(ExtensionTableStats {
            entries: stats.entries,
            bytes: stats.allocated_bytes,
        })
    }

    /// Records that this transaction depends on a document as it is in its snapshot, without
    /// reading it: the commit then fails with a conflict if the document changed meanwhile.
    /// A builder that derived entries from a snapshot document calls this for each one.
    pub fn note_document_read(&mut self, collection: &str, key: &[u8]) -> Result<()> {
        let coll = self.collection(collection)?;
        let docs = coll.docs.clone();
        self.note_read(&docs, key);
        Ok(())
    }

    /// Reads a document by its stored key bytes (as found in an index entry).
    pub fn get_by_key(&mut self, collection: &str, key: &[u8]) -> Result<Option<Value>> {
        let coll = self.collection(collection)?;
        let db = self.db.clone();
        let at = crate::record::RecordAt { collection, key };
        // Decoded where the record lies: no copy of it out of the page.
        self.read_with(&coll.docs, key, true, |record| {
            crate::record::decode_record(&db.shared.codecs, at, record)
        })
    }

    /// Visits the documents whose keys lie within `(start, end)` in key (`_id`) order, with
    /// their key bytes, until `visit` returns false or an error of the caller's own type `E`
    /// (returned as it is: a query's own error needs no detour through the engine's).
    pub fn scan_documents<E: From<EngineError>>(
        &mut self,
        collection: &str,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        mut visit: impl FnMut(&[u8], Value) -> Result<bool, E>,
    ) -> Result<(), E> {
        let coll = self.collection(collection)?;
        let docs = coll.docs.clone();
        let db = self.db.clone();
        self.scan(&docs, start, end, |key, record| {
            let at = crate::record::RecordAt { collection, key };
            visit(
                key,
                crate::record::decode_record(&db.shared.codecs, at, record)?,
            )
        })
    }

    /// [`Transaction::scan_documents`] decoding only the top-level `fields` of each document
    /// (an object of those it has; see [`cairn_doc::decode_fields`]): for a reader that needs
    /// a few fields of every document, such as an index build, the rest is never allocated.
    pub fn scan_document_fields<E: From<EngineError>>(
        &mut self,
        collection: &str,
        (start, end): (Bound<&[u8]>, Bound<&[u8]>),
        fields: &[&str],
        mut visit: impl FnMut(&[u8], Value) -> Result<bool, E>,
    ) -> Result<(), E> {
        let coll = self.collection(collection)?;
        let docs = coll.docs.clone();
        let db = self.db.clone();
        self.scan(&docs, start, end, |key, record| {
            let at = crate::record::RecordAt { collection, key };
            visit(
                key,
                crate::record::decode_record_fields(&db.shared.codecs, at, record, fields)?,
            )
        })
    }

    /// Number of documents in a collection as of this transaction's snapshot (pending writes
    /// not included). Constant time.
    pub fn document_count(&mut self, collection: &str) -> Result<u64> {
        let coll = self.collection(collection)?;
        let docs = coll.docs.clone();
        let db = self.db.clone();
        match self.reader(&docs)? {
            Some(reader) => crate::packed::documents_in(reader, &db.shared.codecs),
            None => Ok(0),
        }
    }
}
