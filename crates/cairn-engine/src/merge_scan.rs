//! A transaction's view of a key range: its snapshot's entries overlaid with its own pending
//! writes, in key order. Pure: no locking, no recording of reads.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;

use cairn_storage::{Entry, TableReader};

use crate::compression::Codecs;
use crate::error::{EngineError, Result};
use crate::packed::{self, PackedEntries};
use crate::writeset::Pending;

/// Which way a scan walks its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending key order.
    Forward,
    /// Descending key order (an index read backwards for a descending sort).
    Backward,
}

/// A stored table as a scan reads it: entries as stored, or a documents table of packed runs
/// (`packed.rs`), whose logical entries are the records inside the runs.
#[derive(Clone, Copy)]
pub(crate) enum Stored<'a> {
    /// One stored entry per key.
    Plain(&'a TableReader),
    /// Packed runs of document records.
    Packed {
        reader: &'a TableReader,
        codecs: &'a Codecs,
        table: &'a str,
    },
}

impl<'a> Stored<'a> {
    /// How `table` is read: packed when the database stores documents in runs and `table` is
    /// a documents table.
    pub(crate) fn of(reader: &'a TableReader, codecs: &'a Codecs, table: &'a str) -> Stored<'a> {
        if codecs.packed() && crate::layout::is_docs_table(table) {
            Stored::Packed {
                reader,
                codecs,
                table,
            }
        } else {
            Stored::Plain(reader)
        }
    }
}

/// Visits, in key order, every key of `range` that is stored (in `stored`) or pending (in
/// `pending`), with its current value — a pending put replaces the stored value, a pending
/// delete hides it — until `visit` returns false. A visitor's error is the caller's own type
/// (`E`), returned as it is.
pub(crate) fn merge_scan<E: From<EngineError>>(
    stored: Option<Stored<'_>>,
    pending: Option<&BTreeMap<Vec<u8>, Pending>>,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
) -> Result<(), E> {
    merge_scan_toward(Direction::Forward, stored, pending, range, visit)
}

/// [`merge_scan`] in either direction: backwards, keys come in descending order.
pub(crate) fn merge_scan_toward<E: From<EngineError>>(
    direction: Direction,
    stored: Option<Stored<'_>>,
    pending: Option<&BTreeMap<Vec<u8>, Pending>>,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
) -> Result<(), E> {
    if is_empty_range(range) {
        // Nothing lies in it; and `BTreeMap::range` panics on a start above the end.
        return Ok(());
    }
    let reader = match stored {
        None => None,
        Some(Stored::Plain(reader)) => Some(reader),
        Some(Stored::Packed {
            reader,
            codecs,
            table,
        }) => {
            if direction == Direction::Backward {
                // Only documents tables are packed and nothing reads them backwards today;
                // should something, the forward merge reversed is the same view.
                let mut entries = Vec::new();
                let collect = |k: &[u8], v: &[u8]| {
                    entries.push((k.to_vec(), v.to_vec()));
                    Ok::<_, EngineError>(true)
                };
                if pending.is_none_or(BTreeMap::is_empty) {
                    packed::visit_range(reader, codecs, table, range, collect)?;
                } else {
                    let stored = PackedEntries::new(reader, codecs, table, range)?;
                    let pending = pending.into_iter().flat_map(|p| p.range::<[u8], _>(range));
                    merge(Some(stored), pending, false, collect)?;
                }
                for (key, value) in entries.iter().rev() {
                    if !visit(key, value)? {
                        break;
                    }
                }
                return Ok(());
            }
            if pending.is_none_or(BTreeMap::is_empty) {
                return packed::visit_range(reader, codecs, table, range, visit);
            }
            let entries = PackedEntries::new(reader, codecs, table, range)?;
            let pending = pending.into_iter().flat_map(|p| p.range::<[u8], _>(range));
            return merge(Some(entries), pending, false, visit);
        }
    };
    let stored = match reader {
        Some(reader) => Some(reader.range(range.0, range.1).map_err(EngineError::from)?),
        None => None,
    };
    let empty = BTreeMap::new();
    let pending = pending.unwrap_or(&empty);
    match direction {
        Direction::Forward => merge(stored, pending.range::<[u8], _>(range), false, visit),
        Direction::Backward => merge(
            stored.map(Iterator::rev),
            pending.range::<[u8], _>(range).rev(),
            true,
            visit,
        ),
    }
}

/// Whether no key can lie in `range`: its start is above its end, or they are equal and
/// not both included.
fn is_empty_range((start, end): (Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            s >= e
        }
        _ => false,
    }
}

/// An entry of the stored side of a merge: borrowed from a page (a plain table) or copied
/// out of a decompressed run (packed runs), so one merge serves both.
trait StoredEntry {
    /// The entry's key.
    fn entry_key(&self) -> &[u8];
    /// The entry's value.
    fn entry_value(&self) -> &[u8];
}

impl StoredEntry for Entry<'_> {
    fn entry_key(&self) -> &[u8] {
        self.key()
    }
    fn entry_value(&self) -> &[u8] {
        self.value()
    }
}

impl StoredEntry for (Vec<u8>, Vec<u8>) {
    fn entry_key(&self) -> &[u8] {
        &self.0
    }
    fn entry_value(&self) -> &[u8] {
        &self.1
    }
}

/// Merges stored entries with pending writes, both already in the scan's order; `backward`
/// says which order that is (it decides which side comes first).
fn merge<'p, S, T, X, P, E>(
    stored: Option<S>,
    pending: P,
    backward: bool,
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
) -> Result<(), E>
where
    S: Iterator<Item = std::result::Result<T, X>>,
    T: StoredEntry,
    EngineError: From<X>,
    P: Iterator<Item = (&'p Vec<u8>, &'p Pending)>,
    E: From<EngineError>,
{
    let mut pending = pending.peekable();
    if pending.peek().is_none() {
        // Nothing to overlay (every read-only snapshot): stream the stored entries without
        // copying each key for the merge, which showed up in query profiles.
        for entry in stored.into_iter().flatten() {
            let entry = entry.map_err(EngineError::from)?;
            if !visit(entry.entry_key(), entry.entry_value())? {
                break;
            }
        }
        return Ok(());
    }
    let mut stored = stored.map(Iterator::peekable);
    loop {
        let next_stored = peek_key(&mut stored)?;
        let take_pending = match (&next_stored, pending.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(s), Some((p, _))) if backward => p.as_slice() >= s.as_slice(),
            (Some(s), Some((p, _))) => p.as_slice() <= s.as_slice(),
        };
        if take_pending {
            let Some((key, write)) = pending.next() else {
                return Ok(());
            };
            if next_stored.as_deref() == Some(key.as_slice()) {
                // The pending write shadows the stored entry with the same key.
                stored.as_mut().map(Iterator::next);
            }
            if let Pending::Put { value, .. } = write {
                if !visit(key, value)? {
                    return Ok(());
                }
            }
        } else if let Some(Some(entry)) = stored.as_mut().map(Iterator::next) {
            let entry = entry.map_err(EngineError::from)?;
            if !visit(entry.entry_key(), entry.entry_value())? {
                return Ok(());
            }
        }
    }
}

/// The key of the next stored entry, surfacing a storage error instead of skipping it.
fn peek_key<S, T, X>(stored: &mut Option<Peekable<S>>) -> Result<Option<Vec<u8>>>
where
    S: Iterator<Item = std::result::Result<T, X>>,
    T: StoredEntry,
    EngineError: From<X>,
{
    let Some(iter) = stored.as_mut() else {
        return Ok(None);
    };
    match iter.peek() {
        Some(Ok(entry)) => Ok(Some(entry.entry_key().to_vec())),
        Some(Err(_)) => match iter.next() {
            Some(Err(err)) => Err(err.into()),
            _ => Ok(None),
        },
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::Bound;

    use cairn_storage::{StorageMode, Store, StoreConfig};
    use proptest::prelude::*;

    use super::{merge_scan, merge_scan_toward, Direction};
    use crate::writeset::Pending;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The merged view equals applying the pending writes to a copy of the stored map.
        #[test]
        fn merge_equals_applying_pending_writes_to_a_model(
            stored in prop::collection::btree_map(0u8..20, 0u8..9, 0..12),
            pending in prop::collection::btree_map(0u8..20, prop::option::of(0u8..9), 0..12),
            lo in 0u8..20,
            hi in 0u8..21,
        ) {
            let store = Store::open(&StoreConfig::new(std::path::PathBuf::new(), StorageMode::MemoryOnly))
                .expect("open");
            let txn = store.begin_write().expect("begin");
            {
                let mut table = txn.table("t").expect("table");
                for (k, v) in &stored {
                    table.put(&[*k], &[*v]).expect("put");
                }
            }
            txn.commit().expect("commit");
            let snapshot = store.snapshot().expect("snapshot");
            let reader = snapshot.table("t").expect("table");
            let writes: BTreeMap<Vec<u8>, Pending> = pending
                .iter()
                .map(|(k, v)| (vec![*k], v.map_or(Pending::Delete, |v| Pending::Put { value: vec![v], stamp_seq: false })))
                .collect();
            let mut model = stored.clone();
            for (k, v) in &pending {
                match v {
                    Some(v) => { model.insert(*k, *v); }
                    None => { model.remove(k); }
                }
            }
            let want: Vec<(u8, u8)> = model.range(lo..hi.max(lo)).map(|(k, v)| (*k, *v)).collect();
            let mut got = Vec::new();
            // An inverted range (lo > hi) is empty, not a panic.
            let (lo_key, hi_key) = ([lo], [hi]);
            merge_scan(reader.as_ref().map(super::Stored::Plain), Some(&writes), (Bound::Included(&lo_key[..]), Bound::Excluded(&hi_key[..])), |k, v| {
                got.push((k[0], v[0]));
                Ok::<_, crate::EngineError>(true)
            }).expect("scan");
            prop_assert_eq!(&got, &want);
            let mut backward = Vec::new();
            merge_scan_toward(Direction::Backward, reader.as_ref().map(super::Stored::Plain), Some(&writes), (Bound::Included(&lo_key[..]), Bound::Excluded(&hi_key[..])), |k, v| {
                backward.push((k[0], v[0]));
                Ok::<_, crate::EngineError>(true)
            }).expect("scan");
            let mut reversed = want.clone();
            reversed.reverse();
            prop_assert_eq!(backward, reversed);
        }
    }
}
