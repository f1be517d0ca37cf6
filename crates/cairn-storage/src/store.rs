//! Opening a store, and the background flush of `memory-first` mode.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use redb::ReadableDatabase;

use crate::cipher::{Cipher, KeySource};
use crate::contain::contained;
use crate::encrypted_backend::{EncryptedBackend, SharedBackend};
use crate::keyring::{self, DataKeys};
use crate::mode::StorageMode;
use crate::reopen::Failure;
use crate::snapshot::Snapshot;
use crate::snapshot_cache::SnapshotCache;
use crate::wal::log::Wal;
use crate::wal::recover::recover;
use crate::wal::{WalSettings, WAL_DIR_NAME};
use crate::write::WriteTxn;
use crate::{Result, StorageError};

/// Name of the single data file inside a database folder.
pub const DATA_FILE_NAME: &str = "data.redb";
/// Name of the rotation journal beside the data file (present only while a data-key rotation
/// is under way or was interrupted).
pub const ROTATION_JOURNAL_FILE_NAME: &str = "rekey.journal";

/// Where and how to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The database folder; ignored (and never created) for [`StorageMode::MemoryOnly`].
    pub dir: PathBuf,
    /// The storage mode.
    pub mode: StorageMode,
    /// The key for an encrypted database: required to open one, and creates one when the
    /// folder holds no database yet. `None` opens (or creates) an unencrypted database.
    /// Ignored in memory-only mode, which writes nothing to disk.
    pub encryption: Option<KeySource>,
    /// When the write-ahead log checkpoints (ignored in memory-only mode).
    pub wal: WalSettings,
}

impl StoreConfig {
    /// An unencrypted store configuration.
    pub fn new(dir: impl Into<PathBuf>, mode: StorageMode) -> StoreConfig {
        StoreConfig {
            dir: dir.into(),
            mode,
            encryption: None,
            wal: WalSettings::default(),
        }
    }
}

/// State shared between the store, its write transactions and the flusher thread.
pub(crate) struct Shared {
    pub(crate) mode: StorageMode,
    /// Set after a commit whose log record was not synced (memory-first), cleared by the sync:
    /// whether a flush has work to do.
    pub(crate) dirty: AtomicBool,
    /// Commits so far; bumped by every commit once it is visible, before it returns. Also the
    /// key under which the shared read view is reused (see `snapshot_cache.rs`).
    pub(crate) commits: AtomicU64,
    /// The read view shared by snapshots taken since the latest commit.
    pub(crate) snapshots: SnapshotCache,
    pub(crate) fsyncs: AtomicU64,
    /// The open redb database; `None` after `reopen.rs` closed one an I/O error disabled and
    /// before it opened the file again.
    pub(crate) db: parking_lot::RwLock<Option<Arc<redb::Database>>>,
    /// The write-ahead log (`None` in memory-only mode, and while `reopen.rs` recovers).
    pub(crate) wal: parking_lot::RwLock<Option<Arc<Wal>>>,
    /// The encrypting backend, whose active key seals log records.
    pub(crate) sealing: Option<Arc<EncryptedBackend>>,
    /// Why the store is disabled: set by the operation that failed, cleared by a reopen.
    pub(crate) failure: parking_lot::Mutex<Option<Failure>>,
}

impl Shared {
    /// The data key that seals a log record now (the active one), when encrypted.
    pub(crate) fn sealing_key(&self) -> Option<(u32, Cipher)> {
        self.sealing.as_ref().map(|backend| backend.active_key())
    }

    /// The cipher that opens a log record sealed under data key `id`.
    pub(crate) fn opener(&self, id: u32) -> Option<Cipher> {
        self.sealing
            .as_ref()
            .and_then(|backend| backend.opener_for(id))
    }

    /// Counts a commit that is now visible, before it is acknowledged: from here on a new
    /// snapshot no longer reuses a view taken before it (see `snapshot_cache.rs`).
    pub(crate) fn count_commit(&self) {
        self.commits.fetch_add(1, Ordering::AcqRel);
        self.snapshots.release_stale(&self.commits);
    }
}

/// An open database: one redb file (or one in-memory backend) and its storage mode.
pub struct Store {
    pub(crate) shared: Arc<Shared>,
    path: Option<PathBuf>,
    flusher: Option<Flusher>,
    /// When the log checkpoints (kept to restart the background thread).
    pub(crate) wal_settings: WalSettings,
    /// Log records replayed when this store opened.
    replayed_on_open: u64,
    recovered_on_open: bool,
    /// The encrypting backend of an encrypted store.
    pub(crate) encryption: Option<Arc<EncryptedBackend>>,
    /// Held by a data-key rotation, so two never run at once.
    pub(crate) rotation: parking_lot::Mutex<()>,
}

impl Store {
    /// Opens the store, creating the folder and data file if they do not exist.
    pub fn open(config: &StoreConfig) -> Result<Store> {
        let mode = config.mode;
        let mut builder = redb::Builder::new();
        builder.set_cache_size(mode.cache_bytes());
        // redb calls this only when the file was not closed cleanly and must be repaired.
        let repaired = Arc::new(AtomicBool::new(false));
        let flag = repaired.clone();
        builder.set_repair_callback(move |_| flag.store(true, Ordering::Relaxed));
        let mut encryption = None;
        let (db, path) = if mode.has_files() {
            std::fs::create_dir_all(&config.dir).map_err(|source| StorageError::Io {
                path: config.dir.clone(),
                source,
            })?;
            let path = config.dir.join(DATA_FILE_NAME);
            let db = match unlock_or_create(&config.dir, &path, config.encryption.as_ref())? {
                Some(keys) => {
                    let journal = config.dir.join(ROTATION_JOURNAL_FILE_NAME);
                    let backend = Arc::new(encrypted_file_backend(&path, &keys, journal)?);
                    encryption = Some(backend.clone());
                    contained("opening the data file", || {
                        builder
                            .create_with_backend(SharedBackend(backend))
                            .map_err(|err| open_error(err, &path))
                    })?
                }
                None => contained("opening the data file", || {
                    builder.create(&path).map_err(|err| open_error(err, &path))
                })?,
            };
            (db, Some(path))
        } else {
            let backend = redb::backends::InMemoryBackend::new();
            let db = builder
                .create_with_backend(backend)
                .map_err(|err| open_error(err, Path::new("<memory>")))?;
            (db, None)
        };
        let db = Arc::new(db);
        let (wal, replayed) = match &path {
            Some(_) => {
                let (wal, replayed) = start_wal(&db, &config.dir, config.wal, encryption.as_ref())?;
                (Some(Arc::new(wal)), replayed)
            }
            None => (None, 0),
        };
        let shared = Arc::new(Shared {
            mode,
            dirty: AtomicBool::new(false),
            commits: AtomicU64::new(0),
            snapshots: SnapshotCache::default(),
            fsyncs: AtomicU64::new(0),
            db: parking_lot::RwLock::new(Some(db)),
            wal: parking_lot::RwLock::new(wal),
            sealing: encryption.clone(),
            failure: parking_lot::Mutex::new(None),
        });
        let flusher = Flusher::start_for(&shared, config.wal)?;
        Ok(Store {
            shared,
            path,
            flusher,
            wal_settings: config.wal,
            replayed_on_open: replayed,
            recovered_on_open: repaired.load(Ordering::Relaxed),
            encryption,
            rotation: parking_lot::Mutex::new(()),
        })
    }

    /// The active data key's cipher of an encrypted store (for backups, which are encrypted
    /// with the database's key; after a rotation, the new key); `None` when not encrypted.
    pub fn cipher(&self) -> Option<Cipher> {
        self.encryption
            .as_ref()
            .map(|backend| backend.active_key().1)
    }

    /// The id of the active data key (1 for a new database, +1 per rotation; 0 for a
    /// database created before rotation existed); `None` when not encrypted.
    pub fn data_key_id(&self) -> Option<u32> {
        self.encryption
            .as_ref()
            .map(|backend| backend.active_key().0)
    }

    /// Whether a data-key rotation was started and has not finished (it was interrupted):
    /// the data file is readable under both keys until `rotate_data_key` completes it.
    pub fn rotation_pending(&self) -> bool {
        self.encryption
            .as_ref()
            .is_some_and(|backend| backend.rotating())
    }

    /// Authenticates every block of an encrypted data file; returns the blocks that fail
    /// (empty when intact, and always empty for an unencrypted store).
    pub fn verify_blocks(&self) -> Result<Vec<u64>> {
        match &self.encryption {
            Some(backend) => backend
                .verify_all_blocks()
                .map_err(|source| StorageError::Io {
                    path: self.path.clone().unwrap_or_default(),
                    source,
                }),
            None => Ok(Vec::new()),
        }
    }

    /// The copies of an encrypted file's header block (slots 0 and 1) that fail
    /// authentication; reads use the intact one, so only this reveals a damaged copy. Always
    /// empty for an unencrypted store.
    pub fn damaged_header_copies(&self) -> Result<Vec<u64>> {
        match &self.encryption {
            Some(backend) => backend
                .damaged_header_copies()
                .map_err(|source| StorageError::Io {
                    path: self.path.clone().unwrap_or_default(),
                    source,
                }),
            None => Ok(Vec::new()),
        }
    }

    /// How many write-ahead log records opening replayed (commits after the last checkpoint;
    /// 0 after a clean close).
    pub fn log_records_replayed(&self) -> u64 {
        self.replayed_on_open
    }

    /// Whether opening found the file not cleanly closed (a crash) and repaired it.
    pub fn recovered_on_open(&self) -> bool {
        self.recovered_on_open
    }

    /// The storage mode this store was opened with.
    pub fn mode(&self) -> StorageMode {
        self.shared.mode
    }

    /// The data file, or `None` in memory-only mode.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A consistent read view of the latest commit. Never waits for the writer.
    ///
    /// Every commit that returned before this call is visible in it. Snapshots taken while no
    /// commit lands in between share one view (see [`Snapshot::id`]).
    pub fn snapshot(&self) -> Result<Snapshot> {
        if self.shared.db.read().is_none() {
            // Closed by a reopen that could not open the file again yet.
            self.reopen()?;
        }
        let db = self.shared.db()?;
        let begun = self.shared.snapshots.snapshot(&self.shared.commits, || {
            contained("starting a read", || Ok(db.begin_read()?))
        });
        self.shared.observe(begun)
    }

    /// Starts the write transaction, waiting while another one is live. After an I/O error
    /// disabled the data file (a full disk), this first reopens it (see `reopen.rs`).
    pub fn begin_write(&self) -> Result<WriteTxn> {
        if self.shared.failure.lock().is_some() {
            self.reopen()?;
        }
        let db = self.shared.db()?;
        let txn = contained("starting a write", || Ok(db.begin_write()?));
        WriteTxn::new(self.shared.observe(txn)?, self.shared.clone())
    }

    /// Makes every acknowledged commit durable now (a no-op for modes that already are, and for
    /// memory-only, which has nothing to make durable).
    pub fn flush(&self) -> Result<()> {
        flush_now(&self.shared)
    }

    /// Makes a checkpoint: commits the data file durably with the log position it holds, so
    /// the log's segments can go and a reopen replays nothing. A no-op without a log or with
    /// nothing logged since the last checkpoint.
    pub fn checkpoint(&self) -> Result<()> {
        checkpoint_now(&self.shared)
    }

    /// Verifies the write-ahead log: every record's checksum, order and payload (and
    /// authentication, when encrypted); `None` in memory-only mode. Damage is
    /// [`StorageError::WalCorrupt`] naming the segment and offset.
    pub fn verify_wal(&self) -> Result<Option<crate::WalReport>> {
        let Some(wal) = self.shared.wal.read().clone() else {
            return Ok(None);
        };
        let db = self.shared.db()?;
        let checkpoint = contained("reading the log checkpoint", || {
            crate::wal::read_checkpoint(&db.begin_read()?)
        })?;
        let shared = &self.shared;
        wal.verify(checkpoint, &|id| shared.opener(id)).map(Some)
    }

    /// Why the store cannot write right now (a full disk, an I/O error), or `None` when it
    /// can. For readiness checks: the next write retries, reopening the data file.
    pub fn write_failure(&self) -> Option<StorageError> {
        self.shared.failure.lock().as_ref().map(Failure::error)
    }

    /// Counters and sizes for `stats` and metrics.
    pub fn stats(&self) -> StoreStats {
        let cache = self.shared.db.read().as_ref().map(|db| db.cache_stats());
        let meta = self
            .path
            .as_ref()
            .and_then(|path| std::fs::metadata(path).ok());
        let file_bytes = meta.as_ref().map_or(0, std::fs::Metadata::len);
        let disk_bytes = meta.as_ref().map_or(0, allocated_bytes);
        StoreStats {
            commits: self.shared.commits.load(Ordering::Acquire),
            fsyncs: self.shared.fsyncs.load(Ordering::Relaxed),
            file_bytes,
            disk_bytes,
            cache_used_bytes: cache.as_ref().map_or(0, |c| c.used_bytes() as u64),
            cache_evictions: cache.as_ref().map_or(0, |c| c.evictions()),
            cache_read_hits: cache.as_ref().map_or(0, |c| c.read_hits()),
            cache_read_misses: cache.as_ref().map_or(0, |c| c.read_misses()),
        }
    }

    /// Verifies every page checksum and the B-tree structure, repairing what redb can repair.
    /// Returns `true` when the file was intact. Needs exclusive access: stops the flusher while
    /// it runs.
    pub fn check_integrity(&mut self) -> Result<bool> {
        self.exclusively("integrity check", |db| {
            db.check_integrity().map_err(|err| match err {
                redb::DatabaseError::Storage(inner) => inner.into(),
                other => StorageError::engine("integrity check", other),
            })
        })
    }

    /// Rewrites the file to release free space; returns the data file's allocated bytes
    /// (before, after). Needs exclusive access: no snapshot or transaction may be live.
    pub fn compact(&mut self) -> Result<(u64, u64)> {
        // Measured after the checkpoint compaction starts with, which grows the file itself.
        self.checkpoint()?;
        let before = self.stats().disk_bytes;
        self.exclusively("compaction", |db| {
            // redb compacts in rounds; each returns whether it moved anything.
            while db
                .compact()
                .map_err(|err| StorageError::engine("compaction", err))?
            {}
            Ok(())
        })?;
        Ok((before, self.stats().disk_bytes))
    }

    /// Runs `op` with sole access to the redb database (the flusher paused).
    fn exclusively<T>(
        &mut self,
        operation: &'static str,
        op: impl FnOnce(&mut redb::Database) -> Result<T>,
    ) -> Result<T> {
        self.flush()?;
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
        // Compaction and the integrity check work on the data file alone: bring it up to the
        // log first.
        self.checkpoint()?;
        // The shared view is a live read transaction, which these operations refuse.
        self.shared.snapshots.clear();
        let mut slot = self.shared.db.write();
        let result = match slot.as_mut().and_then(Arc::get_mut) {
            Some(db) => op(db),
            None => Err(StorageError::Engine {
                operation,
                detail: "the store is in use by another handle".to_string(),
            }),
        };
        drop(slot);
        self.flusher = Flusher::start_for(&self.shared, self.wal_settings)?;
        result
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
        self.shared.snapshots.clear();
        // A clean close makes memory-first commits durable and checkpoints, so the next open
        // replays nothing; a failure here cannot be reported from drop, and the promise for a
        // crash (which this then is) still holds.
        let _ = self.flush();
        let _ = self.checkpoint();
    }
}

/// Counters and sizes of an open store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Storage commits since the store was opened.
    pub commits: u64,
    /// Durable commits (each one fsync) since the store was opened.
    pub fsyncs: u64,
    /// Length of the data file; 0 in memory-only mode. The storage engine grows the file
    /// ahead of need, and the grown part is sparse, so this overstates disk use.
    pub file_bytes: u64,
    /// Bytes the data file actually occupies on disk (allocated blocks, as `du` reports).
    pub disk_bytes: u64,
    /// Bytes currently held in the page cache.
    pub cache_used_bytes: u64,
    /// Pages evicted from the cache.
    pub cache_evictions: u64,
    /// Page reads served from the cache.
    pub cache_read_hits: u64,
    /// Page reads that went to the file.
    pub cache_read_misses: u64,
}

/// Bytes of disk blocks allocated to a file (not its length, which may include sparse holes).
#[cfg(unix)]
pub fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    // st_blocks is always in 512-byte units, whatever the file system's block size.
    meta.blocks() * 512
}

/// Bytes of disk blocks allocated to a file; without block counts, its length.
#[cfg(not(unix))]
pub fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

/// Syncs the log if records were appended without a sync (memory-first).
fn flush_now(shared: &Arc<Shared>) -> Result<()> {
    if !shared.dirty.load(Ordering::Acquire) {
        return Ok(());
    }
    let Some(wal) = shared.wal.read().clone() else {
        return Ok(());
    };
    // Cleared first: a commit appending during the sync sets it again.
    shared.dirty.store(false, Ordering::Release);
    match shared.observe(wal.sync()) {
        Ok(synced) => {
            if synced {
                shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
        Err(err) => {
            shared.dirty.store(true, Ordering::Release);
            Err(err)
        }
    }
}

/// Makes a checkpoint through an empty write transaction (see [`Store::checkpoint`]).
pub(crate) fn checkpoint_now(shared: &Arc<Shared>) -> Result<()> {
    let has_log_work = shared
        .wal
        .read()
        .as_ref()
        .is_some_and(|wal| wal.has_uncheckpointed());
    if !has_log_work {
        return Ok(());
    }
    let db = shared.db()?;
    let txn = shared.observe(contained("starting a write", || Ok(db.begin_write()?)))?;
    WriteTxn::new(txn, shared.clone())?.commit_checkpoint()
}

/// Recovers the log in `dir` into `db` (`wal/recover.rs`) and starts it again; returns it
/// and how many records were replayed.
pub(crate) fn start_wal(
    db: &redb::Database,
    dir: &Path,
    settings: WalSettings,
    encryption: Option<&Arc<EncryptedBackend>>,
) -> Result<(Wal, u64)> {
    let wal_dir = dir.join(WAL_DIR_NAME);
    let opener = |id: u32| encryption.and_then(|backend| backend.opener_for(id));
    let recovered = contained("replaying the write-ahead log", || {
        recover(db, &wal_dir, &opener)
    })?;
    let wal = Wal::start(
        &wal_dir,
        settings,
        recovered.next_lsn,
        recovered.checkpoint_lsn,
    )?;
    Ok((wal, recovered.replayed))
}

/// The background thread of a store with files: every tick, syncs the log if memory-first
/// commits are waiting for it, and makes a checkpoint once the checkpoint interval has passed
/// with something logged (so an idle database's log does not wait for the next write).
struct Flusher {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Flusher {
    /// The thread for `shared`'s mode: none in memory-only mode; ticks at the flush interval
    /// in memory-first, at the checkpoint interval otherwise.
    fn start_for(shared: &Arc<Shared>, settings: WalSettings) -> Result<Option<Flusher>> {
        let tick = match shared.mode {
            StorageMode::MemoryOnly => return Ok(None),
            StorageMode::MemoryFirst { flush_interval } => {
                flush_interval.min(settings.checkpoint_interval)
            }
            _ => settings.checkpoint_interval,
        };
        Flusher::start(shared.clone(), tick).map(Some)
    }

    fn start(shared: Arc<Shared>, interval: std::time::Duration) -> Result<Flusher> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cairn-flusher".to_string())
            .spawn(move || loop {
                match stopped.recv_timeout(interval) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        // A failed flush is retried at the next tick; the data stays in memory
                        // and the loss window grows only while the disk refuses writes.
                        let _ = flush_now(&shared);
                        let due = shared
                            .wal
                            .read()
                            .as_ref()
                            .is_some_and(|wal| wal.checkpoint_due(0));
                        if due {
                            let _ = checkpoint_now(&shared);
                        }
                    }
                    _ => return,
                }
            })
            .map_err(|source| StorageError::Io {
                path: PathBuf::from("<flusher thread>"),
                source,
            })?;
        Ok(Flusher { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

pub(crate) fn open_error(err: redb::DatabaseError, path: &Path) -> StorageError {
    match err {
        redb::DatabaseError::DatabaseAlreadyOpen => StorageError::AlreadyOpen {
            path: path.to_path_buf(),
        },
        redb::DatabaseError::UpgradeRequired(version) => StorageError::UnsupportedFormat {
            detail: format!("file format version {version} needs an upgrade"),
        },
        redb::DatabaseError::Storage(inner) => inner.into(),
        other => StorageError::engine("open", other),
    }
}

/// Decides whether the store at `dir` is encrypted, and unlocks (or creates) its key:
/// `Some(keys)` for an encrypted store, `None` for a plain one.
fn unlock_or_create(dir: &Path, data: &Path, key: Option<&KeySource>) -> Result<Option<DataKeys>> {
    let encrypted = keyring::is_encrypted(dir);
    match (encrypted, key) {
        (true, Some(key)) => keyring::unlock_keys(&keyring::keyring_path(dir), key).map(Some),
        (true, None) => Err(StorageError::KeyRequired {
            path: dir.to_path_buf(),
        }),
        // A data file without a keyring is a plain database; encrypting it in place is not
        // offered (a crash halfway would leave a file that is neither).
        (false, Some(_)) if data.exists() => Err(StorageError::NotEncrypted {
            path: dir.to_path_buf(),
        }),
        (false, Some(key)) => keyring::create(dir, key).map(Some),
        (false, None) => Ok(None),
    }
}

fn encrypted_file_backend(
    path: &Path,
    keys: &DataKeys,
    journal: PathBuf,
) -> Result<EncryptedBackend> {
    let io = |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    let inner = redb::backends::FileBackend::new(file).map_err(|err| open_error(err, path))?;
    EncryptedBackend::new(Box::new(inner), keys, Some(journal)).map_err(|err| {
        match crate::error::tampered_block(&err) {
            Some(block) => StorageError::Tampered { block },
            None => io(err),
        }
    })
}
