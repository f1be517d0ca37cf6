//! What a transaction intends to write and what it read: the unit the writer validates and
//! applies.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// A pending change to one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pending {
    /// Store these bytes. `stamp_seq` marks document records, whose header receives the
    /// commit's sequence number.
    Put { value: Vec<u8>, stamp_seq: bool },
    /// Remove the key.
    Delete,
}

impl Pending {
    fn size_bytes(&self) -> u64 {
        match self {
            Pending::Put { value, .. } => value.len() as u64,
            Pending::Delete => 0,
        }
    }
}

/// Buffered writes, per table, in key order. Later writes to a key replace earlier ones.
#[derive(Debug, Default)]
pub(crate) struct WriteSet {
    pub(crate) tables: BTreeMap<Arc<str>, BTreeMap<Vec<u8>, Pending>>,
    /// Table-name prefixes whose tables are deleted before the writes apply (dropped
    /// collections and detached extensions).
    pub(crate) dropped_prefixes: Vec<String>,
    /// Bytes of keys and values buffered, for the transaction size limit.
    pub(crate) size_bytes: u64,
    /// The collection name of each packed documents table written (`packed.rs`): the writer
    /// compresses its runs with that collection's settings.
    pub(crate) packed_owners: BTreeMap<Arc<str>, Arc<str>>,
    /// Superseded document versions to fill into the change-log records that elided them
    /// (`elided.rs`). Never undone by a rollback: a filled record is correct either way.
    pub(crate) fills: Vec<crate::elided::Fill>,
}

impl WriteSet {
    /// Buffers a write; returns what was buffered for the key before, so the caller can undo.
    pub(crate) fn set(
        &mut self,
        table: &Arc<str>,
        key: Vec<u8>,
        pending: Pending,
    ) -> Option<Pending> {
        self.size_bytes += key.len() as u64 + pending.size_bytes();
        let writes = self.tables.entry(table.clone()).or_default();
        writes.insert(key, pending)
    }

    /// Restores a key's buffered state to `previous` (undoing [`WriteSet::set`]). A table
    /// left without writes is forgotten, so a transaction whose every operation was undone is
    /// read-only again (`Transaction::is_read_only`) and commits nothing: otherwise it would
    /// take a sequence number with no change record.
    pub(crate) fn restore(&mut self, table: &Arc<str>, key: &[u8], previous: Option<Pending>) {
        if let Some(writes) = self.tables.get_mut(table) {
            match previous {
                Some(pending) => {
                    writes.insert(key.to_vec(), pending);
                }
                None => {
                    writes.remove(key);
                    if writes.is_empty() {
                        self.tables.remove(table);
                    }
                }
            }
        }
    }

    /// The buffered write for a key, if any.
    pub(crate) fn get(&self, table: &str, key: &[u8]) -> Option<&Pending> {
        self.tables.get(table)?.get(key)
    }

    /// Whether the table's contents are replaced wholesale by a drop in this transaction.
    pub(crate) fn is_dropped(&self, table: &str) -> bool {
        self.dropped_prefixes
            .iter()
            .any(|p| table.starts_with(p.as_str()))
    }

    /// Number of keys written.
    pub(crate) fn key_count(&self) -> usize {
        self.tables.values().map(BTreeMap::len).sum()
    }
}

/// What a transaction read, for validation at commit: if any of it changed after the
/// transaction's snapshot, the transaction conflicts.
#[derive(Debug, Default)]
pub(crate) struct ReadSet {
    pub(crate) points: Vec<(Arc<str>, Vec<u8>)>,
    pub(crate) ranges: Vec<ReadRange>,
    /// Set for read-only transactions, which never validate, so recording their reads would
    /// only cost memory (a full scan would record a million points).
    pub(crate) untracked: bool,
}

/// A key range a transaction scanned.
#[derive(Debug)]
pub(crate) struct ReadRange {
    pub(crate) table: Arc<str>,
    pub(crate) start: Bound<Vec<u8>>,
    pub(crate) end: Bound<Vec<u8>>,
}

impl ReadSet {
    pub(crate) fn point(&mut self, table: &Arc<str>, key: &[u8]) {
        if self.untracked {
            return;
        }
        self.points.push((table.clone(), key.to_vec()));
    }

    pub(crate) fn range(&mut self, table: &Arc<str>, start: Bound<&[u8]>, end: Bound<&[u8]>) {
        if self.untracked {
            return;
        }
        self.ranges.push(ReadRange {
            table: table.clone(),
            start: start.map(<[u8]>::to_vec),
            end: end.map(<[u8]>::to_vec),
        });
    }
}
