//! The log writer: appends records to the newest segment, syncs them, rotates segments at
//! checkpoints and removes the segments a checkpoint made unnecessary.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use parking_lot::Mutex;

use super::frame::{finish_frame, segment_header, SEGMENT_HEADER_BYTES};
use super::{segment_path, WalSettings};
use crate::cipher::Cipher;
use crate::error::is_disk_full;
use crate::{Result, StorageError};

/// The write-ahead log of one store.
pub(crate) struct Wal {
    dir: PathBuf,
    settings: WalSettings,
    state: Mutex<LogState>,
}

/// The segment being appended to.
struct OpenSegment {
    file: File,
    path: PathBuf,
    first_lsn: u64,
    /// Bytes of header and records (where the next record goes).
    len: u64,
    /// Bytes the file holds, zeros after `len` (see [`PREALLOCATE_BYTES`]).
    allocated: u64,
}

/// Zeros written ahead of the records, 4 MiB at a time. A sync that also has to record a new
/// file length (and newly allocated blocks) costs a file-system journal commit; a sync of
/// bytes written over already allocated blocks does not. Measured here with 300-byte appends:
/// 1,750 syncs/s when each append grows the file, 5,360/s over preallocated zeros. A scan
/// treats zeros after the last record as the end of the log.
const PREALLOCATE_BYTES: u64 = 4 * 1024 * 1024;

struct LogState {
    segment: OpenSegment,
    /// LSN the next record gets.
    next_lsn: u64,
    /// LSN the data file is durable through (stored inside the checkpoint's commit).
    checkpoint_lsn: u64,
    /// Record bytes appended since the last checkpoint.
    bytes_since_checkpoint: u64,
    last_checkpoint: Instant,
    /// Whether records were appended without a sync since the last sync.
    unsynced: bool,
    /// Set when a failed append could not be taken back: every later append is refused
    /// until the store is opened again (recovery then cuts the tail by checksum).
    poisoned: Option<String>,
}

/// Where an append put its record, so a failed storage commit can take it back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Appended {
    pub(crate) lsn: u64,
    len_before: u64,
}

impl Wal {
    /// Starts a log whose next record is `next_lsn`, in a new segment (recovery has removed
    /// every older one), with the data file durable through `checkpoint_lsn`.
    pub(crate) fn start(
        dir: &Path,
        settings: WalSettings,
        next_lsn: u64,
        checkpoint_lsn: u64,
    ) -> Result<Wal> {
        let segment = create_segment(dir, next_lsn)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            settings,
            state: Mutex::new(LogState {
                segment,
                next_lsn,
                checkpoint_lsn,
                bytes_since_checkpoint: 0,
                last_checkpoint: Instant::now(),
                unsynced: false,
                poisoned: None,
            }),
        })
    }

    /// Whether a commit adding `payload_bytes` should be a checkpoint: the bytes since the
    /// last one reach [`WalSettings::checkpoint_bytes`], or records were appended and
    /// [`WalSettings::checkpoint_interval`] has passed.
    pub(crate) fn checkpoint_due(&self, payload_bytes: usize) -> bool {
        let state = self.state.lock();
        let pending = state.bytes_since_checkpoint + payload_bytes as u64;
        pending >= self.settings.checkpoint_bytes
            || (pending > 0 && state.last_checkpoint.elapsed() >= self.settings.checkpoint_interval)
    }

    /// Whether records were appended since the last checkpoint.
    pub(crate) fn has_uncheckpointed(&self) -> bool {
        let state = self.state.lock();
        state.next_lsn - 1 > state.checkpoint_lsn
    }

    /// The LSN of the last record appended (0 before the first).
    pub(crate) fn last_lsn(&self) -> u64 {
        self.state.lock().next_lsn - 1
    }

    /// Appends one record — `buf` is a redo buffer with its frame header reserved — sealed
    /// under `key` when given, and syncs the segment when `sync` (fdatasync: the record is
    /// durable when this returns).
    pub(crate) fn append(
        &self,
        mut buf: Vec<u8>,
        key: Option<(u32, Cipher)>,
        sync: bool,
    ) -> Result<Appended> {
        let mut state = self.state.lock();
        if let Some(reason) = &state.poisoned {
            return Err(StorageError::IoFailed {
                detail: reason.clone(),
            });
        }
        let lsn = state.next_lsn;
        finish_frame(
            &mut buf,
            lsn,
            key.as_ref().map(|(id, cipher)| (*id, cipher)),
        )?;
        let len_before = state.segment.len;
        let end = len_before + buf.len() as u64;
        let segment = &mut state.segment;
        let written = preallocate(segment, end)
            .and_then(|()| segment.file.write_all_at(&buf, len_before))
            .and_then(|()| {
                if sync {
                    segment.file.sync_data()
                } else {
                    Ok(())
                }
            });
        if let Err(err) = written {
            let path = state.segment.path.clone();
            // Take back whatever part of the record reached the file, so no later record
            // follows a damaged one; failing that, refuse appends until a reopen.
            state.segment.allocated = len_before;
            if let Err(undo) = state.segment.file.set_len(len_before) {
                state.poisoned = Some(format!(
                    "the write-ahead log {} could not be cut back after a failed append: {undo}",
                    path.display()
                ));
            }
            return Err(io_error(&path, err));
        }
        state.segment.len += buf.len() as u64;
        state.next_lsn += 1;
        state.bytes_since_checkpoint += buf.len() as u64;
        state.unsynced = !sync;
        Ok(Appended { lsn, len_before })
    }

    /// Takes back the last append (its storage commit failed, so it was never acknowledged
    /// and must not be replayed after later records).
    pub(crate) fn undo(&self, appended: Appended) {
        let mut state = self.state.lock();
        if state.next_lsn != appended.lsn + 1 {
            return;
        }
        let cut = state
            .segment
            .file
            .set_len(appended.len_before)
            .and_then(|()| state.segment.file.sync_data());
        match cut {
            Ok(()) => {
                state.segment.len = appended.len_before;
                state.segment.allocated = appended.len_before;
                state.next_lsn = appended.lsn;
            }
            Err(err) => {
                state.poisoned = Some(format!(
                    "the write-ahead log {} could not be cut back after a failed commit: {err}",
                    state.segment.path.display()
                ));
            }
        }
    }

    /// Syncs the newest segment if anything was appended without a sync; returns whether it
    /// synced.
    pub(crate) fn sync(&self) -> Result<bool> {
        let mut state = self.state.lock();
        if !state.unsynced {
            return Ok(false);
        }
        state
            .segment
            .file
            .sync_data()
            .map_err(|err| io_error(&state.segment.path, err))?;
        state.unsynced = false;
        Ok(true)
    }

    /// Records that a durable storage commit holds every record through `lsn`: starts a new
    /// segment and removes the older ones. A failure to rotate or remove costs disk space,
    /// never data (recovery skips records at or below the checkpoint), so it is not an error.
    pub(crate) fn checkpointed(&self, lsn: u64) {
        let mut state = self.state.lock();
        state.checkpoint_lsn = lsn;
        state.bytes_since_checkpoint = 0;
        state.last_checkpoint = Instant::now();
        state.unsynced = false;
        if state.next_lsn != lsn + 1 {
            return;
        }
        if state.segment.len == SEGMENT_HEADER_BYTES as u64 {
            // Nothing in the newest segment: only older ones (left by a failed removal) go.
            let first = state.segment.first_lsn;
            drop(state);
            let _ = remove_segments_before(&self.dir, first);
            return;
        }
        let Ok(fresh) = create_segment(&self.dir, state.next_lsn) else {
            return;
        };
        let old = std::mem::replace(&mut state.segment, fresh);
        drop(state);
        drop(old.file);
        let _ = remove_segments_before(&self.dir, lsn + 1);
    }
}

impl Wal {
    /// Verifies every segment (`recover.rs::verify`) while no record is appended.
    pub(crate) fn verify(
        &self,
        checkpoint: u64,
        key: &dyn Fn(u32) -> Option<Cipher>,
    ) -> Result<super::WalReport> {
        let _appends_wait = self.state.lock();
        super::recover::verify(&self.dir, checkpoint, key)
    }
}

/// The LSNs and paths of the segment files in `dir`, oldest first. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let io = |source| StorageError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(lsn) = name.to_str().and_then(super::parse_segment_name) else {
            continue;
        };
        segments.push((lsn, entry.path()));
    }
    segments.sort();
    Ok(segments)
}

/// Removes every segment whose first LSN is below `first_kept`.
pub(crate) fn remove_segments_before(dir: &Path, first_kept: u64) -> Result<()> {
    for (lsn, path) in list_segments(dir)? {
        if lsn < first_kept {
            std::fs::remove_file(&path).map_err(|source| StorageError::Io { path, source })?;
        }
    }
    Ok(())
}

/// Creates the segment whose first record is `first_lsn`, with its header synced and its
/// folder entry synced (so the segment survives a power loss).
fn create_segment(dir: &Path, first_lsn: u64) -> Result<OpenSegment> {
    let path = segment_path(dir, first_lsn);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|err| io_error(&path, err))?;
    file.write_all(&segment_header(first_lsn))
        .and_then(|()| file.sync_data())
        .map_err(|err| io_error(&path, err))?;
    sync_dir(dir)?;
    let len = SEGMENT_HEADER_BYTES as u64;
    Ok(OpenSegment {
        file,
        path,
        first_lsn,
        len,
        allocated: len,
    })
}

/// Makes sure the segment's file holds at least `end` bytes, writing zeros up to the next
/// multiple of [`PREALLOCATE_BYTES`] past it when it does not.
fn preallocate(segment: &mut OpenSegment, end: u64) -> std::io::Result<()> {
    if end <= segment.allocated {
        return Ok(());
    }
    let target = (end / PREALLOCATE_BYTES + 1) * PREALLOCATE_BYTES;
    let zeros = vec![0u8; (target - segment.allocated) as usize];
    segment.file.write_all_at(&zeros, segment.allocated)?;
    segment.allocated = target;
    Ok(())
}

/// Syncs a folder, so the files created in it survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|folder| folder.sync_all())
            .map_err(|err| io_error(dir, err))?;
    }
    Ok(())
}

/// An I/O error on the log, as the variant the store's failure handling knows: a full disk
/// is [`StorageError::DiskFull`], anything else [`StorageError::IoFailed`] naming the file.
fn io_error(path: &Path, err: std::io::Error) -> StorageError {
    if is_disk_full(&err) {
        StorageError::DiskFull {
            detail: format!("{}: {err}", path.display()),
        }
    } else {
        StorageError::IoFailed {
            detail: format!("write-ahead log {}: {err}", path.display()),
        }
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("segment_first_lsn", &state.segment.first_lsn)
            .field("next_lsn", &state.next_lsn)
            .field("checkpoint_lsn", &state.checkpoint_lsn)
            .finish()
    }
}
