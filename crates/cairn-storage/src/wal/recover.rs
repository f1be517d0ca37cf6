//! Recovery at open, and the verification `cairn check` runs.
//!
//! Recovery: the data file is as of its last durable commit (a checkpoint, or a clean
//! close), which stores the checkpoint LSN in the table [`super::CHECKPOINT_TABLE`]. Every
//! record after it is replayed, in LSN order, into one write transaction that also stores
//! the new checkpoint and commits durably; then every segment is removed and the log starts
//! a new one. A torn tail of the newest segment is cut (those records were never
//! acknowledged); damage anywhere else, a missing record, or a record that does not decode is
//! an error naming the segment and offset, and the store does not open.

use std::path::{Path, PathBuf};

use redb::ReadableDatabase;

use super::frame::{open_body, scan, Scan};
use super::log::{list_segments, remove_segments_before};
use super::redo::{decode, RedoOp};
use super::{read_checkpoint, write_checkpoint};
use crate::cipher::Cipher;
use crate::snapshot::RawTable;
use crate::{Result, StorageError};

/// What recovery found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// The LSN the next record gets.
    pub(crate) next_lsn: u64,
    /// The checkpoint the data file now holds.
    pub(crate) checkpoint_lsn: u64,
    /// Records replayed.
    pub(crate) replayed: u64,
    /// Whether a torn tail was cut.
    pub(crate) torn_tail: bool,
}

/// What the log holds, for `cairn check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalReport {
    /// Segment files.
    pub segments: u64,
    /// Whole records (each one storage commit), every one checksummed, authenticated when
    /// sealed, and decoded.
    pub records: u64,
    /// Bytes of the segment files.
    pub bytes: u64,
    /// Records after the last checkpoint (what a crash now would replay).
    pub pending_records: u64,
    /// Whether the newest segment ends in a torn (partial) record.
    pub torn_tail: bool,
}

/// A segment read and scanned.
struct Segment {
    path: PathBuf,
    bytes: Vec<u8>,
    scan: Scan,
}

/// Reads and scans the segments that may hold records after `checkpoint`, checking that
/// their records follow each other without a gap from `checkpoint + 1` on.
fn segments_after(dir: &Path, checkpoint: u64, all: bool) -> Result<Vec<Segment>> {
    let listed = list_segments(dir)?;
    let mut segments = Vec::new();
    let mut expected: Option<u64> = None;
    for (i, (name_lsn, path)) in listed.iter().enumerate() {
        let last = i + 1 == listed.len();
        // Segment i holds LSNs below the next segment's first; skip it when those are all at
        // or below the checkpoint.
        if !all && !last && listed[i + 1].0 <= checkpoint + 1 {
            continue;
        }
        let bytes = std::fs::read(path).map_err(|source| StorageError::Io {
            path: path.clone(),
            source,
        })?;
        let scan = scan(&bytes, path, last)?;
        let gap = |detail: String| StorageError::WalCorrupt {
            segment: path.clone(),
            offset: 0,
            detail,
        };
        if !scan.frames.is_empty() || scan.valid_len > 0 {
            if scan.first_lsn != *name_lsn {
                return Err(gap(format!(
                    "header names LSN {} but the file name {name_lsn}",
                    scan.first_lsn
                )));
            }
            let first_needed = expected.unwrap_or(scan.first_lsn.min(checkpoint + 1));
            if scan.first_lsn != first_needed && scan.first_lsn > checkpoint + 1 {
                return Err(gap(format!(
                    "records {first_needed}..{} are missing from the log",
                    scan.first_lsn - 1
                )));
            }
            expected = Some(scan.first_lsn + scan.frames.len() as u64);
        }
        segments.push(Segment {
            path: path.clone(),
            bytes,
            scan,
        });
    }
    Ok(segments)
}

/// Replays the log in `dir` into `db` after the checkpoint the data file holds; see the
/// module documentation. `key` returns the cipher of a data key id (encrypted stores).
pub(crate) fn recover(
    db: &redb::Database,
    dir: &Path,
    key: &dyn Fn(u32) -> Option<Cipher>,
) -> Result<Recovered> {
    std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let checkpoint = {
        let txn = db.begin_read()?;
        read_checkpoint(&txn)?
    };
    let segments = segments_after(dir, checkpoint, false)?;
    let mut recovered = Recovered {
        next_lsn: checkpoint + 1,
        checkpoint_lsn: checkpoint,
        ..Recovered::default()
    };
    let mut txn = db.begin_write()?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(|err| StorageError::engine("set durability", err))?;
    for segment in &segments {
        recovered.torn_tail |= segment.scan.torn;
        for frame in segment
            .scan
            .frames
            .iter()
            .filter(|frame| frame.lsn > checkpoint)
        {
            let payload = open_body(&segment.bytes, frame, &segment.path, key)?;
            let ops = decode(&payload).map_err(|err| StorageError::WalCorrupt {
                segment: segment.path.clone(),
                offset: frame.offset as u64,
                detail: err.to_string(),
            })?;
            apply(&txn, &ops)?;
            recovered.replayed += 1;
            recovered.next_lsn = frame.lsn + 1;
        }
        if let Some(last) = segment.scan.frames.last() {
            recovered.next_lsn = recovered.next_lsn.max(last.lsn + 1);
        }
    }
    if recovered.replayed > 0 {
        recovered.checkpoint_lsn = recovered.next_lsn - 1;
        write_checkpoint(&txn, recovered.checkpoint_lsn)?;
        txn.commit()?;
    } else {
        txn.abort()?;
    }
    // Everything the segments hold is now at or below the checkpoint.
    remove_segments_before(dir, u64::MAX)?;
    Ok(recovered)
}

/// A table of raw bytes open for writing.
type RawWriter<'txn> = redb::Table<'txn, &'static [u8], &'static [u8]>;

/// Applies one record's operations.
fn apply(txn: &redb::WriteTransaction, ops: &[RedoOp<'_>]) -> Result<()> {
    let mut open: Option<(&str, RawWriter<'_>)> = None;
    for op in ops {
        let name = match op {
            RedoOp::Put { table, .. } | RedoOp::Delete { table, .. } => *table,
            RedoOp::DropTable { table } => {
                open = None;
                txn.delete_table(RawTable::new(table))?;
                continue;
            }
        };
        if open.as_ref().map(|(current, _)| *current) != Some(name) {
            drop(open.take());
            open = Some((name, txn.open_table(RawTable::new(name))?));
        }
        let Some((_, table)) = open.as_mut() else {
            continue;
        };
        match op {
            RedoOp::Put { key, value, .. } => {
                table.insert(*key, *value)?;
            }
            RedoOp::Delete { key, .. } => {
                table.remove(*key)?;
            }
            RedoOp::DropTable { .. } => {}
        }
    }
    Ok(())
}

/// Checks every segment of a live log (checksums, order, authentication, payloads).
pub(crate) fn verify(
    dir: &Path,
    checkpoint: u64,
    key: &dyn Fn(u32) -> Option<Cipher>,
) -> Result<WalReport> {
    let segments = segments_after(dir, checkpoint, true)?;
    let mut report = WalReport {
        segments: segments.len() as u64,
        ..WalReport::default()
    };
    for segment in &segments {
        report.bytes += segment.bytes.len() as u64;
        report.torn_tail |= segment.scan.torn;
        for frame in &segment.scan.frames {
            let payload = open_body(&segment.bytes, frame, &segment.path, key)?;
            decode(&payload).map_err(|err| StorageError::WalCorrupt {
                segment: segment.path.clone(),
                offset: frame.offset as u64,
                detail: err.to_string(),
            })?;
            report.records += 1;
            report.pending_records += u64::from(frame.lsn > checkpoint);
        }
    }
    Ok(report)
}
