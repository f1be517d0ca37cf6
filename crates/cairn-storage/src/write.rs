//! The write transaction.

use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;
use redb::ReadableTable;

use crate::contain::contained;
use crate::snapshot::{prefix_end, RawTable};
use crate::store::Shared;
use crate::table_read;
use crate::wal::frame::FRAME_HEADER_BYTES;
use crate::wal::log::Wal;
use crate::wal::redo::Redo;
use crate::wal::{is_private_table, write_checkpoint};
use crate::{Result, StorageError};

/// The store's single write transaction: changes to any number of tables that become visible
/// and durable (per the storage mode) together, or not at all.
///
/// Only one exists at a time; [`crate::Store::begin_write`] waits for the previous one to end.
/// Dropping it without [`WriteTxn::commit`] discards every change. In a store with files,
/// every change is also recorded for the write-ahead log (`wal/`), which makes the commit
/// durable.
pub struct WriteTxn {
    txn: redb::WriteTransaction,
    shared: Arc<Shared>,
    /// The log and this transaction's redo record (absent in memory-only mode).
    log: Option<(Arc<Wal>, Mutex<Redo>)>,
}

/// How a commit ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// As the mode says: logged and synced in durable modes, logged in memory-first.
    Mode,
    /// Logged and synced (with every earlier record) whatever the mode.
    Synced,
    /// A checkpoint: the data file committed durably with the log position it holds.
    Checkpoint,
}

impl WriteTxn {
    pub(crate) fn new(mut txn: redb::WriteTransaction, shared: Arc<Shared>) -> Result<Self> {
        let log = shared.wal.read().clone();
        // With a log, the data file is synced only at checkpoints; without one (memory-only)
        // there is nothing to sync.
        let durability = if log.is_none() && shared.mode.durable_commits() {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        txn.set_durability(durability)
            .map_err(|err| StorageError::engine("set durability", err))?;
        let log = log.map(|wal| (wal, Mutex::new(Redo::new(FRAME_HEADER_BYTES))));
        Ok(WriteTxn { txn, shared, log })
    }

    /// Opens (creating if needed) one table for reading and writing. Several different tables
    /// may be open at once; opening the same one twice is an error.
    pub fn table(&self, name: &str) -> Result<TableWriter<'_>> {
        let table = contained("opening a table", || {
            Ok(self.txn.open_table(RawTable::new(name))?)
        });
        Ok(TableWriter {
            table: self.shared.observe(table)?,
            name: name.to_string(),
            shared: &self.shared,
            redo: self.log.as_ref().map(|(_, redo)| redo),
        })
    }

    /// Deletes a table and all its entries; returns whether it existed.
    pub fn delete_table(&self, name: &str) -> Result<bool> {
        let existed = self.txn.delete_table(RawTable::new(name))?;
        if let Some((_, redo)) = &self.log {
            redo.lock().drop_table(name);
        }
        Ok(existed)
    }

    /// Names of all tables, including ones created in this transaction.
    pub fn table_names(&self) -> Result<Vec<String>> {
        use redb::TableHandle;
        Ok(self
            .txn
            .list_tables()?
            .map(|handle| handle.name().to_string())
            .filter(|name| !is_private_table(name))
            .collect())
    }

    /// Makes every change visible to new snapshots, and durable if the mode says so.
    pub fn commit(self) -> Result<()> {
        self.finish(Ending::Mode)
    }

    /// Commits and makes this and every earlier commit durable regardless of the mode.
    pub fn commit_durable(self) -> Result<()> {
        self.finish(Ending::Synced)
    }

    /// Commits as a checkpoint: the data file durably, with the log position it now holds,
    /// after which the log's older segments go.
    pub(crate) fn commit_checkpoint(self) -> Result<()> {
        self.finish(Ending::Checkpoint)
    }

    /// Discards every change.
    pub fn abort(self) -> Result<()> {
        Ok(self.txn.abort()?)
    }

    fn finish(self, ending: Ending) -> Result<()> {
        let WriteTxn {
            mut txn,
            shared,
            log,
        } = self;
        let Some((wal, redo)) = log else {
            // Memory-only: nothing reaches a disk.
            shared.observe(contained("a commit", || Ok(txn.commit()?)))?;
            shared.count_commit();
            return Ok(());
        };
        let redo = redo.into_inner();
        let checkpoint = ending == Ending::Checkpoint
            && (!redo.is_empty() || wal.has_uncheckpointed())
            || (!redo.is_empty() && wal.checkpoint_due(redo.payload_len()));
        // A checkpoint's own record needs no sync: the durable data-file commit holds it.
        let sync = !checkpoint && (ending == Ending::Synced || shared.mode.durable_commits());
        let appended = if redo.is_empty() {
            None
        } else {
            let key = shared.sealing_key();
            Some(shared.observe(wal.append(redo.into_buf(), key, sync))?)
        };
        if appended.is_none() && sync && ending == Ending::Synced {
            // Nothing new, but earlier unsynced records (memory-first) must be durable now.
            if shared.observe(wal.sync())? {
                shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            }
        }
        let checkpoint_lsn = wal.last_lsn();
        if checkpoint {
            write_checkpoint(&txn, checkpoint_lsn)?;
            txn.set_durability(redb::Durability::Immediate)
                .map_err(|err| StorageError::engine("set durability", err))?;
        }
        if let Err(err) = contained("a commit", || Ok(txn.commit()?)) {
            // Never acknowledged: the record must not be replayed ahead of later ones.
            if let Some(appended) = appended {
                wal.undo(appended);
            }
            return shared.observe(Err(err));
        }
        if checkpoint {
            wal.checkpointed(checkpoint_lsn);
            shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            shared.dirty.store(false, Ordering::Release);
        } else if appended.is_some() {
            if sync {
                shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            } else {
                shared.dirty.store(true, Ordering::Release);
            }
        }
        shared.count_commit();
        Ok(())
    }
}

/// Read-write access to one table inside a [`WriteTxn`]; reads see this transaction's writes.
pub struct TableWriter<'txn> {
    table: redb::Table<'txn, &'static [u8], &'static [u8]>,
    name: String,
    /// Where a write that disables the data file (a full disk) is recorded.
    shared: &'txn Shared,
    /// The transaction's redo record, when it has a log.
    redo: Option<&'txn Mutex<Redo>>,
}

impl TableWriter<'_> {
    /// Inserts or overwrites `key`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let table = &mut self.table;
        let name = &self.name;
        self.shared.observe(contained("a write", || {
            let result = table.insert(key, value).map(|_| ());
            result.map_err(|err| entry_error(name, err, key.len() + value.len()))
        }))?;
        if let Some(redo) = self.redo {
            redo.lock().put(name, key, value);
        }
        Ok(())
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let table = &mut self.table;
        let existed = self
            .shared
            .observe(contained("a delete", || Ok(table.remove(key)?.is_some())))?;
        if let (true, Some(redo)) = (existed, self.redo) {
            redo.lock().delete(&self.name, key);
        }
        Ok(existed)
    }

    /// Looks up `key`, passing the stored value to `read`.
    pub fn get_with<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        table_read::get_with(&self.table, key, read)
    }

    /// Looks up `key` and copies its value out.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// Removes every entry whose key lies in `(start, end)`, at most `limit` of them; returns
    /// how many were removed. The limit keeps one commit's work bounded.
    pub fn delete_range(
        &mut self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<usize> {
        self.delete_range_with(start, end, limit, |_, _| {})
    }

    /// [`TableWriter::delete_range`], showing each removed entry to `removed` (key, value) as
    /// the same pass finds it: how a caller keeps some of what it trims elsewhere without
    /// reading the range twice.
    pub fn delete_range_with(
        &mut self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
        mut removed: impl FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let table = &mut self.table;
        let keys = contained("a range delete", || {
            let mut keys = Vec::new();
            for item in table.range::<&[u8]>((start, end))?.take(limit) {
                let (key, value) = item?;
                removed(key.value(), value.value());
                keys.push(key.value().to_vec());
            }
            for key in &keys {
                table.remove(key.as_slice())?;
            }
            Ok(keys)
        })?;
        if let Some(redo) = self.redo {
            // Logged key by key: replay must remove exactly these, whatever the range holds.
            let mut redo = redo.lock();
            for key in &keys {
                redo.delete(&self.name, key);
            }
        }
        Ok(keys.len())
    }

    /// Visits the entries with keys starting with `prefix`, in order, until `visit` returns false.
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let end = prefix_end(prefix);
        let upper = match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        };
        let mut range = contained("a range read", || {
            Ok(self
                .table
                .range::<&[u8]>((Bound::Included(prefix), upper))?)
        })?;
        loop {
            let Some(item) = contained("a range read", || Ok(range.next()))? else {
                return Ok(());
            };
            let (key, value) = item?;
            let (key, value) = contained("a range read", || Ok((key.value(), value.value())))?;
            if !visit(key, value) {
                return Ok(());
            }
        }
    }

    /// The last entry whose key is at most `key`, passed to `read` without copying (one
    /// descent): how a packed table finds the value holding a key.
    pub fn floor_with<R>(
        &self,
        key: &[u8],
        read: impl FnOnce(&[u8], &[u8]) -> R,
    ) -> Result<Option<R>> {
        table_read::floor_with(&self.table, key, read)
    }

    /// The first entry whose key is above `key`, copied out.
    pub fn after(&self, key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        table_read::after(&self.table, key)
    }

    /// The last entry of the table, if any.
    pub fn last(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        table_read::last(&self.table)
    }

    /// The first entry of the table, if any.
    pub fn first(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        table_read::first(&self.table)
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64> {
        table_read::len(&self.table)
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(table_read::len(&self.table)? == 0)
    }
}

fn entry_error(table: &str, err: redb::StorageError, size: usize) -> StorageError {
    match err {
        redb::StorageError::ValueTooLarge(_) => StorageError::EntryTooLarge {
            table: table.to_string(),
            size_bytes: size as u64,
            limit_bytes: u32::MAX as u64,
        },
        other => other.into(),
    }
}
