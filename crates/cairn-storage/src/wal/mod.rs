//! The write-ahead log: what makes a commit durable in `persistent` and `hybrid` modes (and,
//! on its flush interval, in `memory-first`), so the data file itself is synced only at
//! checkpoints.
//!
//! Every storage commit ([`crate::WriteTxn`]) records its table writes as it makes them
//! (`redo.rs`: absolute puts, deletes and table drops). At commit the store appends them as one
//! record (`frame.rs`: length, LSN, checksum; sealed with the data key when the store is
//! encrypted) to the newest segment (`log.rs`), syncs it (fdatasync) when the mode promises
//! durability, and only then commits redb without a sync of its own. The engine's group commit
//! makes that one record and one sync per group.
//!
//! Checkpoints (by bytes of log or by time, [`WalSettings`]) commit redb durably with the LSN
//! of the last record it holds stored in [`CHECKPOINT_TABLE`], in that same commit; then the
//! segments before go. Opening replays the records after that LSN (`recover.rs`).
//!
//! Segments are `wal/{first LSN as 16 hex digits}.log` in the database folder.

pub(crate) mod frame;
pub(crate) mod log;
pub(crate) mod recover;
pub(crate) mod redo;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::snapshot::RawTable;
use crate::{Result, StorageError};

pub use recover::WalReport;

/// Bytes of log after which the next commit is a checkpoint: 64 MiB. Bounds the replay at
/// open (about a second of redo here) and the log's disk use, while a checkpoint's durable
/// data-file commit is paid once per tens of thousands of small commits.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

/// Time after which a commit (or the background thread, when the database is idle) makes a
/// checkpoint if anything was logged since the last: 60 s. Bounds how long the log of a
/// lightly written database keeps growing before its segments can go.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// Folder of the log's segments inside the database folder.
pub const WAL_DIR_NAME: &str = "wal";

/// The storage layer's own table holding the checkpoint LSN. Hidden from table listings.
pub(crate) const CHECKPOINT_TABLE: &str = "_storage.wal";

/// Key of the checkpoint LSN (u64 LE) in [`CHECKPOINT_TABLE`].
const CHECKPOINT_KEY: &[u8] = b"checkpoint_lsn";

/// When checkpoints happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalSettings {
    /// Log bytes since the last checkpoint that make the next commit one.
    pub checkpoint_bytes: u64,
    /// Time since the last checkpoint after which one is made if anything was logged.
    pub checkpoint_interval: Duration,
}

impl Default for WalSettings {
    fn default() -> Self {
        WalSettings {
            checkpoint_bytes: DEFAULT_CHECKPOINT_BYTES,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
        }
    }
}

/// The path of the segment whose first record is `first_lsn`.
pub(crate) fn segment_path(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("{first_lsn:016x}.log"))
}

/// The first LSN a segment file name stands for, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".log")?;
    (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok())?
}

/// Whether a table name is the storage layer's own (hidden from the layers above).
pub(crate) fn is_private_table(name: &str) -> bool {
    name == CHECKPOINT_TABLE
}

/// The checkpoint LSN a read transaction sees (0 when none was ever made).
pub(crate) fn read_checkpoint(txn: &redb::ReadTransaction) -> Result<u64> {
    let table = match txn.open_table(RawTable::new(CHECKPOINT_TABLE)) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(err) => return Err(err.into()),
    };
    let Some(value) = table.get(CHECKPOINT_KEY)? else {
        return Ok(0);
    };
    let bytes: [u8; 8] = value
        .value()
        .try_into()
        .map_err(|_| StorageError::Corrupted {
            detail: "the write-ahead log checkpoint is not 8 bytes".to_string(),
        })?;
    Ok(u64::from_le_bytes(bytes))
}

/// Stores the checkpoint LSN in a write transaction (that must then commit durably).
pub(crate) fn write_checkpoint(txn: &redb::WriteTransaction, lsn: u64) -> Result<()> {
    let mut table = txn.open_table(RawTable::new(CHECKPOINT_TABLE))?;
    table.insert(CHECKPOINT_KEY, lsn.to_le_bytes().as_slice())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_sort_by_lsn() {
        let dir = Path::new("/db/wal");
        let a = segment_path(dir, 9);
        let b = segment_path(dir, 0x10);
        assert!(a < b, "names sort as LSNs");
        let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_string);
        assert_eq!(name(&a).as_deref().and_then(parse_segment_name), Some(9));
        assert_eq!(parse_segment_name("0000000000000010.log"), Some(16));
        assert_eq!(parse_segment_name("10.log"), None);
        assert_eq!(parse_segment_name("000000000000001g.log"), None);
        assert_eq!(parse_segment_name("0000000000000010.tmp"), None);
    }
}
