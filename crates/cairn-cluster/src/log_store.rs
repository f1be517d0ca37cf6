//! The Raft log and vote, in their own files under `<data>/raft/`: `vote.json` (replaced
//! atomically: temporary file, fsync, rename, fsync of the folder) and `log` (an append-only
//! file of records; appends are fsynced before openraft is told they are durable, so an
//! acknowledged entry survives a crash).
//!
//! A record is `len: u32 LE | xxh3-64 of the payload: u64 LE | payload (JSON)`; the payload is
//! an entry, a truncation (`entries from index on are gone`) or a purge. Replaying the file in
//! order rebuilds the log. A torn last record (a crash mid-append, never acknowledged) is cut
//! off at start; a record that is whole but fails its checksum is corruption and stops the
//! node.
//!
//! Why ours: openraft ships no durable log store, and the engine's own files are the state
//! machine's; keeping the log apart leaves the engine's commit path untouched (ARCHITECTURE.md).
//! The whole log stays in memory as well (entries are read back for replication); log
//! compaction needs snapshot install, which is not done yet.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogId, RaftLogReader};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::ClusterError;
use crate::limits::MAX_LOG_RECORD_BYTES;
use crate::types::{log_write_error, Entry, LogId, StorageError, TypeConfig, Vote};

/// Bytes before a record's payload: length and checksum.
const RECORD_HEADER_BYTES: usize = 12;

/// One record of the log file.
#[derive(Debug, Serialize, Deserialize)]
enum Record {
    /// An appended entry.
    Append(Entry),
    /// Entries at and after this index were removed (a new leader overwrote them).
    Truncate(u64),
    /// Entries up to and including this log id are no longer needed.
    Purge(LogId),
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    vote: Option<Vote>,
}

/// The durable Raft log and vote of one node (cheap to clone: clones share the files).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
    file: Arc<Mutex<File>>,
    dir: PathBuf,
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, replaying it.
    pub fn open(dir: &Path) -> Result<LogStore, ClusterError> {
        let log_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ClusterError::Log { path, source }
        };
        std::fs::create_dir_all(dir).map_err(log_err(dir))?;
        let path = dir.join("log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(log_err(&path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(log_err(&path))?;
        let mut inner = Inner::default();
        let whole = replay(&bytes, &path, &mut inner)?;
        if whole < bytes.len() {
            tracing::warn!(path = %path.display(), torn_bytes = bytes.len() - whole, "cutting a torn record off the raft log (never acknowledged)");
            file.set_len(whole as u64).map_err(log_err(&path))?;
            file.sync_all().map_err(log_err(&path))?;
        }
        let vote_path = dir.join("vote.json");
        inner.vote = match std::fs::read(&vote_path) {
            Ok(text) => {
                Some(
                    serde_json::from_slice(&text).map_err(|err| ClusterError::Corrupt {
                        path: vote_path.clone(),
                        offset: 0,
                        reason: err.to_string(),
                    })?,
                )
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ClusterError::Log {
                    path: vote_path,
                    source,
                })
            }
        };
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
            file: Arc::new(Mutex::new(file)),
            dir: dir.to_path_buf(),
        })
    }

    /// Appends records to the file and fsyncs it (on the blocking pool).
    async fn write(&self, records: Vec<Record>) -> Result<(), StorageError> {
        let file = self.file.clone();
        let mut buf = Vec::new();
        for record in &records {
            encode(record, &mut buf).map_err(log_write_error)?;
        }
        tokio::task::spawn_blocking(move || {
            let mut file = file.lock();
            file.write_all(&buf)?;
            file.sync_data()
        })
        .await
        .map_err(log_write_error)?
        .map_err(log_write_error)
    }
}

/// Replays records into `inner`; returns how many bytes held whole records.
fn replay(bytes: &[u8], path: &Path, inner: &mut Inner) -> Result<usize, ClusterError> {
    let mut at = 0;
    while bytes.len() - at >= RECORD_HEADER_BYTES {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
        let sum = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().unwrap_or_default());
        let start = at + RECORD_HEADER_BYTES;
        if len > MAX_LOG_RECORD_BYTES || bytes.len() - start < len as usize {
            break; // torn tail
        }
        let payload = &bytes[start..start + len as usize];
        let corrupt = |reason: String| ClusterError::Corrupt {
            path: path.to_path_buf(),
            offset: at as u64,
            reason,
        };
        if xxhash_rust::xxh3::xxh3_64(payload) != sum {
            // A torn tail can only be the last record; anywhere else it is corruption.
            if start + len as usize == bytes.len() {
                break;
            }
            return Err(corrupt("checksum mismatch".into()));
        }
        let record: Record =
            serde_json::from_slice(payload).map_err(|err| corrupt(err.to_string()))?;
        match record {
            Record::Append(entry) => {
                inner.entries.insert(entry.get_log_id().index, entry);
            }
            Record::Truncate(index) => {
                inner.entries.split_off(&index);
            }
            Record::Purge(log_id) => {
                let keep = inner.entries.split_off(&(log_id.index + 1));
                inner.entries = keep;
                inner.last_purged = Some(log_id);
            }
        }
        at = start + len as usize;
    }
    Ok(at)
}

fn encode(record: &Record, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let payload = serde_json::to_vec(record)?;
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// Writes `vote.json` atomically and durably.
fn write_vote(dir: &Path, vote: &Vote) -> std::io::Result<()> {
    let tmp = dir.join("vote.json.tmp");
    let text = serde_json::to_vec(vote)?;
    let mut file = File::create(&tmp)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join("vote.json"))?;
    File::open(dir)?.sync_all()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let inner = self.inner.lock();
        Ok(inner
            .entries
            .range(range)
            .map(|(_, entry)| entry.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let inner = self.inner.lock();
        let last = inner
            .entries
            .values()
            .next_back()
            .map(|entry| *entry.get_log_id())
            .or(inner.last_purged);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let dir = self.dir.clone();
        let owned = *vote;
        tokio::task::spawn_blocking(move || write_vote(&dir, &owned))
            .await
            .map_err(log_write_error)?
            .map_err(log_write_error)?;
        self.inner.lock().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.inner.lock().vote)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let records = entries.iter().cloned().map(Record::Append).collect();
        let written = self.write(records).await;
        if written.is_ok() {
            let mut inner = self.inner.lock();
            for entry in entries {
                inner.entries.insert(entry.get_log_id().index, entry);
            }
        }
        callback.log_io_completed(
            written
                .clone()
                .map_err(|err| std::io::Error::other(err.to_string())),
        );
        written
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.write(vec![Record::Truncate(log_id.index)]).await?;
        self.inner.lock().entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.write(vec![Record::Purge(log_id)]).await?;
        let mut inner = self.inner.lock();
        let keep = inner.entries.split_off(&(log_id.index + 1));
        inner.entries = keep;
        inner.last_purged = Some(log_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    #[test]
    fn appends_truncations_and_a_torn_tail_replay_to_the_acknowledged_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for record in [
            Record::Append(entry(1, 1)),
            Record::Append(entry(1, 2)),
            Record::Append(entry(1, 3)),
            Record::Truncate(3),
            Record::Append(entry(2, 3)),
        ] {
            encode(&record, &mut bytes).unwrap();
        }
        let mut torn = Vec::new();
        encode(&Record::Append(entry(2, 4)), &mut torn).unwrap();
        bytes.extend_from_slice(&torn[..torn.len() - 3]);
        std::fs::write(dir.path().join("log"), &bytes).unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let inner = store.inner.lock();
        let ids: Vec<_> = inner
            .entries
            .values()
            .map(|e| (e.log_id.leader_id.term, e.log_id.index))
            .collect();
        assert_eq!(ids, vec![(1, 1), (1, 2), (2, 3)]);
        drop(inner);
        assert!(std::fs::metadata(dir.path().join("log")).unwrap().len() < bytes.len() as u64);
    }

    #[test]
    fn a_corrupt_record_before_the_tail_stops_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        encode(&Record::Append(entry(1, 1)), &mut bytes).unwrap();
        encode(&Record::Append(entry(1, 2)), &mut bytes).unwrap();
        bytes[RECORD_HEADER_BYTES + 2] ^= 0x20;
        std::fs::write(dir.path().join("log"), &bytes).unwrap();
        assert!(matches!(
            LogStore::open(dir.path()),
            Err(ClusterError::Corrupt { .. })
        ));
    }
}
