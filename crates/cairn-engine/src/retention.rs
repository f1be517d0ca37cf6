//! Per-collection retention: a collection may keep its change-log history longer (an audit
//! trail) or shorter than the database-wide retention (`Config::changelog_retention`).
//!
//! **The setting** is a count of the collection's own change-log records — like the
//! database-wide one, which counts records of all collections — in `sys.retention` (collection
//! id → count), set in a transaction like any write ([`Transaction::set_collection_retention`])
//! and removed with the collection.
//!
//! **Trimming stays one pass.** Retention trims the change log from its front, as before; the
//! pass shows each record it removes to the writer (`TableWriter::delete_range_with`), and a
//! record of a collection with a setting is copied, unchanged, into that collection's *kept
//! history* `c{id}.log` under the same key. The kept history is trimmed from its front to the
//! setting's count, in the same commit. Its state (under the empty key) says how far back it
//! is complete: every record of the collection after `complete_after` is in the kept history
//! or still in the change log. Records are never removed from the change log for a
//! collection with a *shorter* setting: backups, replicas and change streams need every change;
//! a shorter setting bounds what reads of the collection's history (`as_of`) may use.
//!
//! **Reading** ([`Database::collection_changes_after`]): the collection's records after a
//! point, oldest first, from its kept history and then the change log, in one snapshot. A point
//! is readable when (1) every record of the collection after it is still held, and (2) with a
//! setting of `N`, at most `N` records of the collection come after it; else the answer is
//! [`EngineError::CollectionHistoryTrimmed`] naming the collection, its retention and the
//! oldest readable point.
//!
//! Elided records (`elided.rs`) stay readable in the kept history: the write that supersedes
//! a document fills the record where it now lies (`fill_kept`).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use cairn_storage::{TableReader, WriteTxn};

use crate::changelog::{fill_stored, record_collection_id, Change, ChangeOp};
use crate::database::Database;
use crate::elided::{Fill, Resolver};
use crate::error::{EngineError, Result};
use crate::layout::{
    changelog_key, kept_table, parse_changelog_key, CHANGELOG_TABLE, RETENTION_TABLE,
};
use crate::limits::{MAX_COLLECTION_RETENTION_CHANGES, MAX_TRIM_PER_COMMIT};
use crate::txn::Transaction;
use crate::writeset::Pending;

/// The key of a kept history's state: `complete_after` (u64 LE) ‖ records held (u64 LE).
const STATE_KEY: &[u8] = b"";

/// The name logged for a retention change (as `ChangeOp::ExtensionData`: every commit needs a
/// change-log record, and a setting is no document write).
const RETENTION_RECORD: &str = "_retention";

/// Collection id → the changes it keeps: the settings as the writer reads them.
pub(crate) type Settings = BTreeMap<u32, u64>;

impl Transaction {
    /// Sets how many of its own change-log records `collection` keeps (`None`: back to the
    /// database-wide retention, and its kept history goes). Takes effect for records trimmed
    /// from the change log after the commit.
    pub fn set_collection_retention(
        &mut self,
        collection: &str,
        changes: Option<u64>,
    ) -> Result<()> {
        if let Some(n) = changes {
            if n == 0 || n > MAX_COLLECTION_RETENTION_CHANGES {
                return Err(EngineError::LimitExceeded {
                    what: "changes a collection's retention keeps (at least 1)",
                    actual: n,
                    limit: MAX_COLLECTION_RETENTION_CHANGES,
                });
            }
        }
        self.atomically(|txn| {
            let meta = txn.collection(collection)?.meta.clone();
            let table: Arc<str> = RETENTION_TABLE.into();
            let key = meta.id.to_be_bytes().to_vec();
            let pending = match changes {
                Some(n) => Pending::Put {
                    value: n.to_le_bytes().to_vec(),
                    stamp_seq: false,
                },
                None => {
                    txn.drop_tables(kept_table(meta.id));
                    Pending::Delete
                }
            };
            txn.write_raw(&table, key, pending)?;
            if txn.changes.is_empty() {
                txn.log_ddl(
                    &ChangeOp::ExtensionData {
                        name: RETENTION_RECORD.to_string(),
                    },
                    &meta,
                );
            }
            Ok(())
        })
    }

    /// The changes `collection` keeps by its own setting (`None`: the database-wide retention).
    pub fn collection_retention(&mut self, collection: &str) -> Result<Option<u64>> {
        let meta = self.collection(collection)?.meta.clone();
        let table: Arc<str> = RETENTION_TABLE.into();
        let stored = self.read_raw(&table, &meta.id.to_be_bytes(), true)?;
        Ok(stored.as_deref().and_then(read_u64))
    }

    /// Forgets a dropped collection's setting and kept history (in its drop's transaction).
    pub(crate) fn drop_retention(&mut self, collection_id: u32) -> Result<()> {
        let table: Arc<str> = RETENTION_TABLE.into();
        self.drop_tables(kept_table(collection_id));
        self.write_raw(
            &table,
            collection_id.to_be_bytes().to_vec(),
            Pending::Delete,
        )
    }
}

impl Database {
    /// [`Transaction::set_collection_retention`] in a transaction of its own.
    pub fn set_collection_retention(&self, collection: &str, changes: Option<u64>) -> Result<()> {
        self.transaction(|txn| txn.set_collection_retention(collection, changes))
    }

    /// [`Transaction::collection_retention`] as of now.
    pub fn collection_retention(&self, collection: &str) -> Result<Option<u64>> {
        self.read()?.collection_retention(collection)
    }

    /// Visits the change-log records of the collection `collection_id` (called `collection`
    /// in messages) committed after `after_seq`, oldest first, from one snapshot: its kept
    /// history, then the change log. Fails with [`EngineError::CollectionHistoryTrimmed`]
    /// (before visiting anything) when the collection's retention does not reach back to
    /// `after_seq`. Reads every record of the change log after the point (other collections'
    /// are skipped by their header, undecoded).
    pub fn collection_changes_after(
        &self,
        collection: &str,
        collection_id: u32,
        after_seq: u64,
        mut visit: impl FnMut(Change) -> Result<bool>,
    ) -> Result<()> {
        let snapshot = self.inner.shared.store.snapshot()?;
        let setting = match snapshot.table(RETENTION_TABLE)? {
            Some(table) => table
                .get(&collection_id.to_be_bytes())?
                .as_deref()
                .and_then(read_u64),
            None => None,
        };
        let log = snapshot.table(CHANGELOG_TABLE)?;
        let kept = snapshot.table(&kept_table(collection_id))?;
        let log_first = match &log {
            Some(log) => log.first()?.and_then(|(key, _)| parse_changelog_key(&key)),
            None => None,
        };
        let log_trimmed = log_first.map_or(0, crate::committer::trimmed_through);
        let kept_state = match &kept {
            Some(kept) => kept.get(STATE_KEY)?.as_deref().and_then(read_state),
            None => None,
        };
        // The oldest point every record after which is still held...
        let held_after = match kept_state {
            Some((complete_after, _)) => complete_after.min(log_trimmed),
            None => log_trimmed,
        };
        let history = |after_seq| History {
            log: log.as_ref(),
            kept: kept.as_ref(),
            collection_id,
            after_seq,
        };
        // ... and, with a setting of `N`, with at most `N` records after it.
        let mut oldest = held_after;
        if let Some(limit) = setting {
            let held = history(held_after);
            let count = held.count()?;
            if count > limit {
                oldest = oldest.max(held.seq_at(count - limit)?);
            }
        }
        if after_seq < oldest {
            return Err(EngineError::CollectionHistoryTrimmed {
                collection: collection.to_string(),
                requested: after_seq,
                oldest_available: oldest,
                retention: match setting {
                    Some(n) => format!("its retention of {n} changes"),
                    None => "the database's change-log retention".to_string(),
                },
            });
        }
        let mut resolver = Resolver::new(&snapshot, &self.inner.shared.codecs);
        history(after_seq).visit(&mut resolver, &mut visit)
    }
}

/// One collection's records after a point, in a snapshot.
struct History<'a> {
    log: Option<&'a TableReader>,
    kept: Option<&'a TableReader>,
    collection_id: u32,
    after_seq: u64,
}

impl History<'_> {
    /// Visits the stored records `(key, bytes)` in order until `visit` says stop.
    fn each(&self, mut visit: impl FnMut(u64, u32, &[u8]) -> Result<bool>) -> Result<()> {
        let start = changelog_key(self.after_seq.saturating_add(1), 0);
        for table in [self.kept, self.log].into_iter().flatten() {
            for entry in table.range(Bound::Included(&start[..]), Bound::Unbounded)? {
                let entry = entry?;
                if record_collection_id(entry.value()) != Some(self.collection_id) {
                    continue;
                }
                let (seq, index) = parse_changelog_key(entry.key())
                    .ok_or_else(|| EngineError::corrupt(CHANGELOG_TABLE, "malformed key"))?;
                if !visit(seq, index, entry.value())? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// How many records there are.
    fn count(&self) -> Result<u64> {
        let mut n = 0u64;
        self.each(|_, _, _| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    /// The sequence number of the `position`-th record (1 = the oldest).
    fn seq_at(&self, position: u64) -> Result<u64> {
        let mut n = 0u64;
        let mut found = self.after_seq;
        self.each(|seq, _, _| {
            n += 1;
            found = seq;
            Ok(n < position)
        })?;
        Ok(found)
    }

    /// Decodes and visits every record.
    fn visit(
        &self,
        resolver: &mut Resolver<'_>,
        visit: &mut impl FnMut(Change) -> Result<bool>,
    ) -> Result<()> {
        self.each(|seq, index, bytes| visit(resolver.decode(seq, index, bytes)?))
    }
}

/// Reads the settings (in the writer's transaction, after its group's writes).
pub(crate) fn load_settings(txn: &WriteTxn) -> Result<Settings> {
    let table = txn.table(RETENTION_TABLE)?;
    let mut settings = Settings::new();
    table.scan_prefix(b"", |key, value| {
        if let (Ok(id), Some(n)) = (<[u8; 4]>::try_from(key), read_u64(value)) {
            settings.insert(u32::from_be_bytes(id), n);
        }
        true
    })?;
    Ok(settings)
}

/// Records trimmed from the change log that kept histories take, by collection id.
pub(crate) type Trimmed = BTreeMap<u32, Vec<(Vec<u8>, Vec<u8>)>>;

/// Takes `record` (key, bytes), just trimmed from the change log, if its collection keeps
/// history of its own.
pub(crate) fn take(settings: &Settings, trimmed: &mut Trimmed, key: &[u8], record: &[u8]) {
    if let Some(id) = record_collection_id(record) {
        if settings.contains_key(&id) {
            trimmed
                .entry(id)
                .or_default()
                .push((key.to_vec(), record.to_vec()));
        }
    }
}

/// Appends the records of `trimmed` to their collections' kept histories and trims each to
/// its setting. `log_trimmed_before` is how far the change log was trimmed before this
/// commit: a kept history started now is complete after it.
pub(crate) fn keep(
    txn: &WriteTxn,
    settings: &Settings,
    trimmed: Trimmed,
    log_trimmed_before: u64,
) -> Result<()> {
    for (id, records) in trimmed {
        let Some(&limit) = settings.get(&id) else {
            continue;
        };
        let mut table = txn.table(&kept_table(id))?;
        let (mut complete_after, mut held) = table
            .get(STATE_KEY)?
            .as_deref()
            .and_then(read_state)
            .unwrap_or((log_trimmed_before, 0));
        for (key, record) in &records {
            table.put(key, record)?;
            held += 1;
        }
        if held > limit {
            let excess = usize::try_from(held - limit)
                .unwrap_or(usize::MAX)
                .min(MAX_TRIM_PER_COMMIT);
            let mut last = None;
            let removed = table.delete_range_with(
                Bound::Excluded(STATE_KEY),
                Bound::Unbounded,
                excess,
                |key, _| last = parse_changelog_key(key),
            )?;
            held -= removed as u64;
            if let Some((seq, _)) = last {
                complete_after = complete_after.max(seq);
            }
        }
        let mut state = complete_after.to_le_bytes().to_vec();
        state.extend_from_slice(&held.to_le_bytes());
        table.put(STATE_KEY, &state)?;
    }
    Ok(())
}

/// Fills a superseded document into its record in a kept history (the change log no longer
/// holds it). Nothing when the collection keeps no history or the record is gone.
pub(crate) fn fill_kept(txn: &WriteTxn, settings: &Settings, fill: &Fill) -> Result<()> {
    if !settings.contains_key(&fill.collection_id) {
        return Ok(());
    }
    let mut table = txn.table(&kept_table(fill.collection_id))?;
    let key = changelog_key(fill.change.0, fill.change.1);
    let Some(stored) = table.get(&key)? else {
        return Ok(());
    };
    let target = (fill.collection_id, fill.id_key.as_slice());
    if let Ok(Some(filled)) = fill_stored(fill.change, &stored, target, &fill.payload) {
        table.put(&key, &filled)?;
    }
    Ok(())
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

fn read_state(bytes: &[u8]) -> Option<(u64, u64)> {
    let complete_after = read_u64(bytes.get(..8)?)?;
    let held = read_u64(bytes.get(8..16)?)?;
    Some((complete_after, held))
}
