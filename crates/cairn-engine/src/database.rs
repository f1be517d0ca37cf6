//! The database handle: opening, single-operation conveniences, retries, reads of the change
//! log and routing index, statistics.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_doc::{DocId, FieldPath, Patch, Value};
use cairn_storage::{
    KeySource, StorageError, StorageMode, Store, StoreConfig, StoreStats, TableStats, WalSettings,
};
use parking_lot::{Condvar, Mutex};

use crate::catalog::{CollectionMeta, CollectionOptions};
use crate::changelog::{read_after, Change};
use crate::committer::{log_bounds, Committer, Counters, Shared, WriterState};
use crate::compression::{Codecs, Compression};
use crate::db_inner::DbInner;
use crate::dictionary::Trainer;
use crate::error::{EngineError, Result};
use crate::extension::ExtensionKind;
use crate::layout::{
    collection_table_prefix, parse_changelog_key, read_u32, MetaKey, CHANGELOG_TABLE,
    LAYOUT_VERSION, LAYOUT_VERSION_PER_RECORD, META_TABLE,
};
use crate::limits::{
    DEFAULT_CHANGELOG_RETENTION_CHANGES, MAX_CHANGES_PER_READ, MAX_RETRY_BACKOFF, MAX_TXN_RETRIES,
};
use crate::read_view::ViewCache;
use crate::txn::{CasOutcome, Transaction, Upserted};

/// The environment variable that makes `Config::new` ask for packed runs (`1`).
pub const PACKED_RUNS_ENV: &str = "CAIRN_PACKED_RUNS";

/// How to open a database.
#[derive(Clone)]
pub struct Config {
    /// The database folder (unused in memory-only mode).
    pub dir: PathBuf,
    /// The storage mode.
    pub mode: StorageMode,
    /// Change-log entries to keep; older ones are trimmed.
    pub changelog_retention: u64,
    /// Extension kinds this process provides.
    pub extension_kinds: Vec<Arc<dyn ExtensionKind>>,
    /// The key of an encrypted database. Required to open one; when the folder holds no
    /// database yet, the new database is created encrypted under it. `None`: unencrypted.
    pub encryption: Option<KeySource>,
    /// How documents are compressed unless a collection has its own setting. Applies to
    /// records written from now on; every record says how it was compressed, so changing this
    /// never makes existing data unreadable.
    pub compression: Compression,
    /// Per-collection compression settings (by collection name), overriding `compression`.
    pub collection_compression: HashMap<String, Compression>,
    /// When the write-ahead log checkpoints: after
    /// [`DEFAULT_CHECKPOINT_BYTES`](cairn_storage::DEFAULT_CHECKPOINT_BYTES) of log or
    /// [`DEFAULT_CHECKPOINT_INTERVAL`](cairn_storage::DEFAULT_CHECKPOINT_INTERVAL) unless set.
    pub wal: WalSettings,
    /// Whether a *new* database stores documents in packed runs (layout version 2,
    /// `packed.rs`): neighbouring records compressed together, one value per run. An existing
    /// database keeps the layout it was created with, whatever this says. Default: off, unless
    /// the environment variable `CAIRN_PACKED_RUNS` is `1` (how the test suites and `cairn
    /// bench core` run in the packed layout without a flag of their own).
    pub packed_runs: bool,
}

impl Config {
    /// A configuration with default retention, default compression (zstd with dictionaries),
    /// no encryption and no extension kinds.
    pub fn new(dir: impl Into<PathBuf>, mode: StorageMode) -> Config {
        Config {
            dir: dir.into(),
            mode,
            changelog_retention: DEFAULT_CHANGELOG_RETENTION_CHANGES,
            extension_kinds: Vec::new(),
            encryption: None,
            compression: Compression::default(),
            collection_compression: HashMap::new(),
            wal: WalSettings::default(),
            packed_runs: std::env::var_os(PACKED_RUNS_ENV).is_some_and(|v| v == "1"),
        }
    }

    /// The storage-layer configuration this engine configuration opens.
    pub(crate) fn store_config(&self) -> StoreConfig {
        StoreConfig {
            encryption: self.encryption.clone(),
            wal: self.wal,
            ..StoreConfig::new(&self.dir, self.mode)
        }
    }
}

/// An open Cairn database. Cheap to clone; all clones share one writer. The database closes
/// (flushing per its storage mode) when the last clone and transaction are dropped.
#[derive(Clone)]
pub struct Database {
    pub(crate) inner: Arc<DbInner>,
}

/// Per-collection figures for `stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionStats {
    /// The collection's name.
    pub name: String,
    /// Number of documents.
    pub documents: u64,
    /// Bytes of pages used by the collection's tables (documents and extensions).
    pub bytes: u64,
}

/// Database-wide figures for `stats` and metrics.
#[derive(Debug, Clone)]
pub struct DatabaseStats {
    /// The storage mode.
    pub mode: StorageMode,
    /// Per collection.
    pub collections: Vec<CollectionStats>,
    /// Sequence number of the last commit.
    pub last_seq: u64,
    /// Entries in the change log.
    pub changelog_entries: u64,
    /// Bytes of pages used by the change log.
    pub changelog_bytes: u64,
    /// Transactions committed since open.
    pub transactions_committed: u64,
    /// Group commits (storage commits of transactions) since open.
    pub group_commits: u64,
    /// Transactions rejected for conflicts since open.
    pub conflicts: u64,
    /// Storage-level counters.
    pub store: StoreStats,
}

/// One operation of a [`Database::batch`].
#[derive(Debug, Clone)]
pub enum BatchOp {
    /// Insert a document.
    Insert {
        /// Target collection.
        collection: String,
        /// The document.
        doc: Value,
    },
    /// Replace an existing document.
    Replace {
        /// Target collection.
        collection: String,
        /// The document's id.
        id: DocId,
        /// The new document.
        doc: Value,
    },
    /// Patch an existing document.
    Update {
        /// Target collection.
        collection: String,
        /// The document's id.
        id: DocId,
        /// The update operators.
        patch: Patch,
    },
    /// Delete a document if present.
    Delete {
        /// Target collection.
        collection: String,
        /// The document's id.
        id: DocId,
    },
    /// Insert or replace by `_id`.
    Upsert {
        /// Target collection.
        collection: String,
        /// The document.
        doc: Value,
    },
}

/// The result of one [`BatchOp`].
#[derive(Debug, Clone, PartialEq)]
pub enum BatchResult {
    /// The inserted document's id.
    Inserted(DocId),
    /// The document was replaced.
    Replaced,
    /// The document after the patch.
    Updated(Value),
    /// Whether a document was deleted.
    Deleted(bool),
    /// What the upsert did.
    Upserted(Upserted),
}

impl Database {
    /// Opens (creating if needed) the database described by `config`.
    pub fn open(config: Config) -> Result<Database> {
        let store = Store::open(&config.store_config())?;
        let (state, packed) = initialize(&store, config.changelog_retention, config.packed_runs)?;
        let codecs = Codecs::new(config.compression, config.collection_compression.clone());
        codecs.set_packed(packed);
        crate::dictionary::load(&store, &codecs)?;
        let shared = Arc::new(Shared {
            store,
            published_seq: AtomicU64::new(state.last_seq),
            active: Mutex::new(BTreeMap::new()),
            committed: Condvar::new(),
            committed_lock: Mutex::new(()),
            counters: Counters::default(),
            views: ViewCache::default(),
            codecs,
            training: Mutex::new(HashMap::new()),
        });
        let committer = Committer::start(shared.clone(), state)?;
        let trains = std::iter::once(&config.compression)
            .chain(config.collection_compression.values())
            .any(|c| c.level.is_some() && c.dictionaries);
        let trainer = if trains {
            Some(Trainer::start(shared.clone())?)
        } else {
            None
        };
        let kinds = config
            .extension_kinds
            .iter()
            .map(|kind| (kind.kind().to_string(), kind.clone()))
            .collect();
        let db = Database {
            inner: Arc::new(DbInner::new(shared, trainer, committer, kinds)),
        };
        // A drop interrupted by a crash (or replayed by a restore) finishes now.
        db.reclaim_dropped()?;
        Ok(db)
    }

    /// Opens a database in memory-only mode (no files), for tests and caches.
    pub fn open_in_memory() -> Result<Database> {
        Database::open(Config::new(PathBuf::new(), StorageMode::MemoryOnly))
    }

    /// The storage mode.
    pub fn mode(&self) -> StorageMode {
        self.inner.shared.store.mode()
    }

    /// Starts a transaction on the latest committed state.
    pub fn begin(&self) -> Result<Transaction> {
        Transaction::begin(self.inner.clone())
    }

    /// Starts a read-only transaction on the latest committed state: a consistent snapshot for
    /// queries and scans. It records no reads (it never conflicts, whatever its size) and
    /// refuses writes with [`EngineError::ReadOnlyTransaction`]; writers never wait for it.
    pub fn read(&self) -> Result<Transaction> {
        Transaction::begin_read(self.inner.clone())
    }

    /// Attaches an extension without building its data from existing documents: from this
    /// commit on, every write calls the extension, and the caller fills in the rest (see
    /// [`Transaction::extension_put`]), e.g. an index built online in sorted chunks.
    pub fn attach_extension_unfilled(
        &self,
        collection: &str,
        kind: &str,
        name: &str,
        config: Value,
    ) -> Result<u64> {
        let mut txn = self.begin()?;
        txn.attach_extension_with(collection, kind, name, config, false)?;
        txn.commit()
    }

    /// Runs `body` in a transaction and commits it, retrying the whole body (with randomised
    /// back-off) when the commit conflicts with a concurrent one. `body` may run several
    /// times, so it should have no effects outside the transaction.
    pub fn transaction<T>(&self, mut body: impl FnMut(&mut Transaction) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            let mut txn = self.begin()?;
            let outcome = body(&mut txn).and_then(|value| txn.commit().map(|_| value));
            match outcome {
                Err(err) if err.is_retryable() && attempt < MAX_TXN_RETRIES => {
                    attempt += 1;
                    backoff(attempt);
                }
                other => return other,
            }
        }
    }

    /// Creates a collection with the default options (routing on for user collections, off
    /// for `_sys_*` ones; see [`CollectionOptions`]).
    pub fn create_collection(&self, name: &str) -> Result<CollectionMeta> {
        self.transaction(|txn| txn.create_collection(name))
    }

    /// Creates a collection with `options`.
    pub fn create_collection_with(
        &self,
        name: &str,
        options: &CollectionOptions,
    ) -> Result<CollectionMeta> {
        self.transaction(|txn| txn.create_collection_with(name, options))
    }

    /// Drops a collection and everything in it: the drop commits at once, then the
    /// documents' records and routing entries are deleted in chunks before this returns (see
    /// `reclaim.rs`).
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.transaction(|txn| txn.drop_collection(name))?;
        self.reclaim_dropped()
    }

    /// Renames a collection.
    pub fn rename_collection(&self, from: &str, to: &str) -> Result<()> {
        self.transaction(|txn| txn.rename_collection(from, to))
    }

    /// Lists collections in name order.
    pub fn list_collections(&self) -> Result<Vec<CollectionMeta>> {
        self.begin()?.list_collections()
    }

    /// Attaches an extension instance to a collection (building its data from existing
    /// documents in the same transaction).
    pub fn attach_extension(
        &self,
        collection: &str,
        kind: &str,
        name: &str,
        config: Value,
    ) -> Result<()> {
        self.transaction(|txn| txn.attach_extension(collection, kind, name, config.clone()))
    }

    /// Detaches an extension and deletes its data.
    pub fn detach_extension(&self, collection: &str, name: &str) -> Result<()> {
        self.transaction(|txn| txn.detach_extension(collection, name))
    }

    /// Inserts a document; returns its id.
    pub fn insert(&self, collection: &str, doc: Value) -> Result<DocId> {
        self.transaction(|txn| txn.insert(collection, doc.clone()))
    }

    /// Reads a document: the latest committed version, including every commit acknowledged
    /// before this call began.
    pub fn get(&self, collection: &str, id: &DocId) -> Result<Option<Value>> {
        self.inner.shared.views.view(&self.inner.shared)?.get(
            &self.inner.shared.codecs,
            collection,
            id,
        )
    }

    /// Replaces an existing document.
    pub fn replace(&self, collection: &str, id: &DocId, doc: Value) -> Result<()> {
        self.transaction(|txn| txn.replace(collection, id, doc.clone()))
    }

    /// Applies update operators to an existing document; returns the new document.
    pub fn update(&self, collection: &str, id: &DocId, patch: &Patch) -> Result<Value> {
        self.transaction(|txn| txn.update(collection, id, patch))
    }

    /// Deletes a document; returns whether it existed.
    pub fn delete(&self, collection: &str, id: &DocId) -> Result<bool> {
        self.transaction(|txn| txn.delete(collection, id))
    }

    /// Inserts or replaces by `_id`.
    pub fn upsert(&self, collection: &str, doc: Value) -> Result<Upserted> {
        self.transaction(|txn| txn.upsert(collection, doc.clone()))
    }

    /// Compare-and-swap on one document; see [`Transaction::compare_and_swap`]. Concurrent
    /// CAS calls on one document serialize: exactly one of several racing with the same
    /// expectation applies, the others report a mismatch.
    pub fn compare_and_swap(
        &self,
        collection: &str,
        id: &DocId,
        expected: &[(FieldPath, Value)],
        patch: &Patch,
    ) -> Result<CasOutcome> {
        self.transaction(|txn| txn.compare_and_swap(collection, id, expected, patch))
    }

    /// Runs the operations in one transaction: all of them take effect, or none.
    pub fn batch(&self, ops: &[BatchOp]) -> Result<Vec<BatchResult>> {
        self.transaction(|txn| ops.iter().map(|op| apply_batch_op(txn, op)).collect())
    }

    /// Visits every document of a collection in `_id` order, on one snapshot, until `visit`
    /// returns false. Writers are never blocked.
    pub fn for_each(
        &self,
        collection: &str,
        visit: impl FnMut(&DocId, &Value) -> bool,
    ) -> Result<()> {
        self.begin()?.for_each(collection, visit)
    }

    /// Reads the changes committed after sequence number `after_seq`, in order, as whole
    /// commits: about `limit` (at most [`MAX_CHANGES_PER_READ`]) changes, more only to finish the
    /// last commit. Page by passing the last `seq` returned. Fails with
    /// [`EngineError::ChangeLogTrimmed`] if retention already removed some of them.
    pub fn changes_after(&self, after_seq: u64, limit: usize) -> Result<Vec<Change>> {
        let snapshot = self.inner.shared.store.snapshot()?;
        let Some(log) = snapshot.table(CHANGELOG_TABLE)? else {
            return Ok(Vec::new());
        };
        let first = log.first()?.and_then(|(key, _)| parse_changelog_key(&key));
        let trimmed = first.map_or(0, crate::committer::trimmed_through);
        if after_seq < trimmed {
            return Err(EngineError::ChangeLogTrimmed {
                requested: after_seq + 1,
                oldest_available: trimmed + 1,
            });
        }
        read_after(
            &mut crate::elided::Resolver::new(&snapshot, &self.inner.shared.codecs),
            &log,
            after_seq,
            limit.min(MAX_CHANGES_PER_READ),
        )
    }

    /// Sequence number of the latest commit.
    pub fn last_seq(&self) -> u64 {
        self.inner.shared.published_seq.load(Ordering::Acquire)
    }

    /// Blocks until a commit after `seq` exists or `timeout` passes; returns the latest
    /// sequence number. For change-log tailers.
    pub fn wait_for_commit_after(&self, seq: u64, timeout: Duration) -> u64 {
        self.inner.shared.wait_for_commit_after(seq, timeout)
    }

    /// Makes every acknowledged commit durable now, whatever the mode.
    pub fn flush(&self) -> Result<()> {
        Ok(self.inner.shared.store.flush()?)
    }

    /// Why the database cannot write right now (a full disk, an I/O error on the data file),
    /// or `None` when it can. The next write retries and reopens the data file once the cause
    /// is gone (see `cairn-storage`'s `reopen.rs`); meanwhile readiness checks report this.
    pub fn write_failure(&self) -> Option<StorageError> {
        self.inner.shared.store.write_failure()
    }

    /// Figures per collection and for the whole database.
    pub fn stats(&self) -> Result<DatabaseStats> {
        let snapshot = self.inner.shared.store.snapshot()?;
        let names = snapshot.table_names()?;
        let metas = self.list_collections()?;
        let mut collections = Vec::with_capacity(metas.len());
        for meta in metas {
            let prefix = collection_table_prefix(meta.id);
            let mut total = TableStats::default();
            let mut documents = 0;
            for name in names.iter().filter(|name| name.starts_with(&prefix)) {
                if let Some(table) = snapshot.table(name)? {
                    let stats = table.stats()?;
                    if *name == crate::layout::docs_table(meta.id) {
                        documents = crate::packed::documents_in(&table, &self.inner.shared.codecs)?;
                    }
                    total += stats;
                }
            }
            collections.push(CollectionStats {
                name: meta.name,
                documents,
                bytes: total.allocated_bytes,
            });
        }
        let (changelog_entries, changelog_bytes) = match snapshot.table(CHANGELOG_TABLE)? {
            Some(log) => {
                let stats = log.stats()?;
                (stats.entries, stats.allocated_bytes)
            }
            None => (0, 0),
        };
        let counters = &self.inner.shared.counters;
        Ok(DatabaseStats {
            mode: self.mode(),
            collections,
            last_seq: self.last_seq(),
            changelog_entries,
            changelog_bytes,
            transactions_committed: counters.transactions.load(Ordering::Relaxed),
            group_commits: counters.groups.load(Ordering::Relaxed),
            conflicts: counters.conflicts.load(Ordering::Relaxed),
            store: self.inner.shared.store.stats(),
        })
    }
}

/// What [`check_integrity`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrityReport {
    /// The file was not closed cleanly (a crash or power loss) and the storage engine rebuilt
    /// its allocation state while opening it. Normal after a crash; committed data is intact.
    pub recovered_on_open: bool,
    /// Every page checksum and the B-tree structure verified.
    pub intact: bool,
}

/// Verifies a closed, unencrypted database's storage checksums and structure; see
/// [`crate::verify::check_database`] for the deep check.
pub fn check_integrity(dir: impl Into<PathBuf>) -> Result<IntegrityReport> {
    let mut store = Store::open(&StoreConfig::new(dir, StorageMode::Persistent))?;
    let recovered_on_open = store.recovered_on_open();
    let intact = store.check_integrity()?;
    Ok(IntegrityReport {
        recovered_on_open,
        intact,
    })
}

/// The storage mode an unencrypted database folder was last opened with; `None` when it holds
/// no database.
pub fn stored_mode_name(dir: impl Into<PathBuf>) -> Result<Option<String>> {
    stored_mode_name_with_key(dir, None)
}

/// The storage mode a database folder was last opened with, opening it with `key` if it is
/// encrypted; `None` when it holds no database.
pub fn stored_mode_name_with_key(
    dir: impl Into<PathBuf>,
    key: Option<&KeySource>,
) -> Result<Option<String>> {
    let dir = dir.into();
    if !dir.join(cairn_storage::DATA_FILE_NAME).exists() {
        return Ok(None);
    }
    let store = Store::open(&StoreConfig {
        encryption: key.cloned(),
        ..StoreConfig::new(dir, StorageMode::Persistent)
    })?;
    let snapshot = store.snapshot()?;
    let Some(meta) = snapshot.table(META_TABLE)? else {
        return Ok(None);
    };
    let mode = meta.get(MetaKey::MODE)?;
    Ok(mode.and_then(|bytes| String::from_utf8(bytes).ok()))
}

fn apply_batch_op(txn: &mut Transaction, op: &BatchOp) -> Result<BatchResult> {
    Ok(match op {
        BatchOp::Insert { collection, doc } => {
            BatchResult::Inserted(txn.insert(collection, doc.clone())?)
        }
        BatchOp::Replace {
            collection,
            id,
            doc,
        } => {
            txn.replace(collection, id, doc.clone())?;
            BatchResult::Replaced
        }
        BatchOp::Update {
            collection,
            id,
            patch,
        } => BatchResult::Updated(txn.update(collection, id, patch)?),
        BatchOp::Delete { collection, id } => BatchResult::Deleted(txn.delete(collection, id)?),
        BatchOp::Upsert { collection, doc } => {
            BatchResult::Upserted(txn.upsert(collection, doc.clone())?)
        }
    })
}

/// Sleeps a random time that grows with the attempt number, so racing retries spread out.
fn backoff(attempt: u32) {
    let ceiling_us = (50u64 << attempt.min(10)).min(MAX_RETRY_BACKOFF.as_micros() as u64);
    // The low bits of a fresh UUIDv4 are a convenient, dependency-free source of jitter.
    let jitter = uuid::Uuid::new_v4().as_u128() as u64 % ceiling_us.max(1);
    std::thread::sleep(Duration::from_micros(jitter));
}

/// Writes the layout version on first open, checks it afterwards, and loads the writer's
/// counters.
fn initialize(
    store: &Store,
    changelog_retention: u64,
    packed_runs: bool,
) -> Result<(WriterState, bool)> {
    let txn = store.begin_write()?;
    let mut changed = false;
    let mut packed = false;
    let state = {
        let mut meta = txn.table(META_TABLE)?;
        match meta
            .get(MetaKey::LAYOUT_VERSION)?
            .as_deref()
            .and_then(read_u32)
        {
            None => {
                let version = match packed_runs {
                    true => LAYOUT_VERSION,
                    false => LAYOUT_VERSION_PER_RECORD,
                };
                meta.put(MetaKey::LAYOUT_VERSION, &version.to_le_bytes())?;
                packed = packed_runs;
                changed = true;
            }
            Some(LAYOUT_VERSION_PER_RECORD) => {}
            Some(LAYOUT_VERSION) => packed = true,
            Some(other) => {
                return Err(EngineError::corrupt(
                    META_TABLE,
                    format!(
                        "layout version {other}; this build reads versions \
                         {LAYOUT_VERSION_PER_RECORD} and {LAYOUT_VERSION}"
                    ),
                ))
            }
        }
        // Recorded so the next open without an explicit mode uses it; written only when it
        // changes, so opening for a read does not write.
        let mode = store.mode().name().as_bytes();
        if meta.get(MetaKey::MODE)?.as_deref() != Some(mode) {
            meta.put(MetaKey::MODE, mode)?;
            changed = true;
        }
        let log = txn.table(CHANGELOG_TABLE)?;
        let key =
            |entry: Option<(Vec<u8>, Vec<u8>)>| entry.and_then(|(k, _)| parse_changelog_key(&k));
        let (last_seq, trimmed) = log_bounds(key(log.first()?), key(log.last()?));
        WriterState {
            last_seq,
            changelog_len: log.len()?,
            changelog_trimmed_through: trimmed,
            // At least one entry is kept: the newest commit's records carry the last sequence
            // number across restarts.
            changelog_retention: changelog_retention.max(1),
            retention_settings: None,
        }
    };
    if changed {
        txn.commit_durable()?;
    } else {
        txn.abort()?;
    }
    Ok((state, packed))
}
