//! Recovering from a failed write (a full disk) without a restart.
//!
//! After an I/O error redb latches a failure flag and refuses every later operation ("Previous
//! I/O error occurred") until the database is closed and opened again — even once the disk has
//! room. The store records the failure ([`Shared::observe`]) and the next write reopens the
//! data file ([`Store::reopen`]): the failed commit was never acknowledged, and what earlier
//! commits made durable is on disk, so opening the file again (with redb's repair, as after a
//! crash) recovers exactly the acknowledged state.
//!
//! What readers hold: a snapshot of the old database keeps its redb transaction, but closing
//! the database closes its file, so such a snapshot answers an error from then on instead of
//! pinning the file (redb's lock is released and the file can be opened again at once). The
//! shared read view is dropped first, so new snapshots come from the reopened file.
//!
//! A reopen is attempted only when a probe write of [`SPACE_PROBE_BYTES`] beside the data file
//! succeeds: while the disk is still full the old (disabled) database stays in place, so reads
//! that its cache can serve keep working and nothing is torn down for nothing.
//!
//! In `memory-first` mode, commits not yet flushed when the failure struck are lost at the
//! reopen, as they would be at a restart: the flush that was to make them durable failed, and
//! redb cannot write them any more. That is the mode's loss window, not a new one.
//!
//! Encrypted stores are not reopened in place (the data key would have to be kept for it):
//! they report the failure until the process restarts.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::contain::contained;
use crate::error::is_disk_full;
use crate::store::{Shared, Store};
use crate::{Result, StorageError};

/// Bytes written (and synced, then removed) beside the data file before a reopen: 1 MiB. A
/// reopen after a crash-like close runs redb's repair, which rewrites allocator state; a
/// megabyte of room is a cheap sign that the disk took its space back, and small enough to
/// find on any disk that can hold the database at all.
pub const SPACE_PROBE_BYTES: usize = 1 << 20;

/// Name of the probe file, beside the data file (exists only during a probe).
const PROBE_FILE_NAME: &str = "space.probe";

/// Why the store is disabled.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    disk_full: bool,
    detail: String,
}

impl Failure {
    fn of(err: &StorageError) -> Option<Failure> {
        match err {
            StorageError::DiskFull { detail } => Some(Failure {
                disk_full: true,
                detail: detail.clone(),
            }),
            StorageError::IoFailed { detail } => Some(Failure {
                disk_full: false,
                detail: detail.clone(),
            }),
            _ => None,
        }
    }

    /// The error a disabled store answers with.
    pub(crate) fn error(&self) -> StorageError {
        let detail = self.detail.clone();
        if self.disk_full {
            StorageError::DiskFull { detail }
        } else {
            StorageError::IoFailed { detail }
        }
    }
}

impl Shared {
    /// Passes `result` on, remembering a failure that disabled the data file (so the next
    /// write reopens it). A plain "previous I/O error" never overwrites a more specific cause
    /// already recorded (a full disk).
    pub(crate) fn observe<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(err) = &result {
            if let Some(failure) = Failure::of(err) {
                let mut slot = self.failure.lock();
                if slot
                    .as_ref()
                    .is_none_or(|old| !old.disk_full || failure.disk_full)
                {
                    *slot = Some(failure);
                }
                if let Some(known) = slot.as_ref() {
                    return Err(known.error());
                }
            }
        }
        result
    }

    /// The open database, or the reason there is none.
    pub(crate) fn db(&self) -> Result<Arc<redb::Database>> {
        if let Some(db) = self.db.read().as_ref() {
            return Ok(db.clone());
        }
        Err(self
            .failure
            .lock()
            .as_ref()
            .map(Failure::error)
            .unwrap_or(StorageError::IoFailed {
                detail: "the data file is being reopened".to_string(),
            }))
    }
}

impl Store {
    /// Reopens the data file after a failure disabled it; see the module documentation.
    pub(crate) fn reopen(&self) -> Result<()> {
        let Some(failure) = self.shared.failure.lock().clone() else {
            return Ok(());
        };
        let Some(path) = self.path().filter(|_| self.encryption.is_none()) else {
            return Err(failure.error());
        };
        // A failed probe is recorded (a full disk says so) and answered.
        self.shared.observe(probe_space(path))?;
        let mut slot = self.shared.db.write();
        if self.shared.failure.lock().is_none() {
            // Another thread reopened while this one waited.
            return Ok(());
        }
        // The shared view holds a read transaction of the old database.
        self.shared.snapshots.clear();
        // Closes the old database (and its file) unless a caller still holds it for a moment;
        // then the open below finds the file locked and the next write tries again. The log
        // goes with it: the reopened file is replayed from its own checkpoint.
        drop(slot.take());
        *self.shared.wal.write() = None;
        let mut builder = redb::Builder::new();
        builder.set_cache_size(self.shared.mode.cache_bytes());
        let opened = contained("reopening the data file", || {
            builder
                .create(path)
                .map_err(|err| crate::store::open_error(err, path))
        });
        let db = match opened {
            Ok(db) => db,
            // A caller still held the old database for a moment: not "another process".
            Err(StorageError::AlreadyOpen { .. }) => {
                return Err(StorageError::IoFailed {
                    detail: "the data file is being reopened; retry".to_string(),
                })
            }
            Err(err) => return self.shared.observe(Err(err)),
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let wal = match crate::store::start_wal(&db, dir, self.wal_settings, None) {
            Ok((wal, _)) => wal,
            Err(err) => return self.shared.observe(Err(err)),
        };
        *self.shared.wal.write() = Some(Arc::new(wal));
        *slot = Some(Arc::new(db));
        *self.shared.failure.lock() = None;
        // Snapshots taken before count as stale: a new one must come from the new file.
        self.shared.commits.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// Writes, syncs and removes [`SPACE_PROBE_BYTES`] beside `data_file`.
fn probe_space(data_file: &Path) -> Result<()> {
    let probe = data_file.with_file_name(PROBE_FILE_NAME);
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(&vec![0u8; SPACE_PROBE_BYTES])?;
        file.sync_data()
    });
    let removed = std::fs::remove_file(&probe);
    written.and(removed).map_err(|err| {
        if is_disk_full(&err) {
            StorageError::DiskFull {
                detail: err.to_string(),
            }
        } else {
            StorageError::Io {
                path: probe,
                source: err,
            }
        }
    })
}
