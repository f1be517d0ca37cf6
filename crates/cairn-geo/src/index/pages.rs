//! Entry pages: how the index's sorted entries are stored, packed many to one stored value.
//!
//! Logically a spatial index is one sorted map of entries (`entries.rs`: key = level ‖ cell ‖
//! document ‖ part, value = the part). Stored one entry per B-tree key, a query's every jump
//! along the Morton curve was a descent through a tree of a million small keys, and walking
//! on was a cursor step per entry: that was most of a cold query's time. Entries are
//! therefore packed into *pages* of consecutive entries, each page one value of
//! [`PAGES_TABLE`]:
//!
//! ```text
//! page key   = a bound: every entry of the page is > the previous page's key and <= this key
//!              (the last page's key is SENTINEL, above every entry key)
//! page value = records in key order, each: key length:u16 LE ‖ value length:u8 ‖ key ‖ value
//! ```
//!
//! So the page holding (or due to hold) key `k` is the first page whose key is `>= k`: one
//! forward seek finds it, a jump within the page's span costs no descent at all, and the
//! tree has ~50× fewer keys. A page never changes its key when entries come or go (only the
//! last piece of a split keeps it, the others take their last entry's key), which keeps
//! writes to one read-modify-write per page touched.
//!
//! Writes ([`apply`]) take a sorted batch of puts and deletes, so a document's entries (or a
//! build chunk's) cost one read and one write per page they touch. A page past
//! [`MAX_PAGE_BYTES`] is cut into pieces of at most [`SPLIT_PAGE_BYTES`]; an emptied page is
//! deleted (its span joins the next page's). Pages are read back as logical entries by
//! `entries_table.rs`, so every reader sees the same sorted map as before.
//!
//! Conflicts: a writer reads the page it rewrites, so two transactions writing entries into
//! one page conflict (the engine's optimistic check), as rows sharing a page do in a
//! page-locking database; entries far apart never do.

use crate::error::{GeoError, Result};
pub use crate::index::layout::PAGES_TABLE;
pub use crate::index::limits::{MAX_ENTRY_KEY_BYTES, MAX_ENTRY_VALUE_BYTES, MAX_PAGE_BYTES};

/// The last page's key: above every entry key (an entry key starts with its level, at most
/// 255, followed by a cell code whose first byte is 0 on the overflow level).
pub const SENTINEL: &[u8] = &[0xFF, 0xFF];

/// Most bytes of each piece a split page is cut into: half full, so the pieces take inserts
/// before they split again.
pub const SPLIT_PAGE_BYTES: usize = MAX_PAGE_BYTES / 2;

/// Bytes of a record's header (key length, value length).
const RECORD_HEADER_BYTES: usize = 3;

/// The stored size of one record.
fn record_bytes(key: &[u8], value: &[u8]) -> usize {
    RECORD_HEADER_BYTES + key.len() + value.len()
}

/// Refuses an entry a page record cannot hold.
fn check_record(key: &[u8], value: &[u8]) -> Result<()> {
    match (u16::try_from(key.len()), u8::try_from(value.len())) {
        (Ok(_), Ok(_)) => Ok(()),
        _ => Err(GeoError::InvalidArgument {
            reason: format!(
                "a spatial index entry of {} key bytes and {} value bytes is over the page \
                 record limits ({MAX_ENTRY_KEY_BYTES}, {MAX_ENTRY_VALUE_BYTES})",
                key.len(),
                value.len()
            ),
        }),
    }
}

/// Appends one record to a page being built. Every record's lengths fit: ops are checked
/// by [`apply`] before anything is written, and stored records were checked when written.
fn push_record(page: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    debug_assert!(check_record(key, value).is_ok());
    page.extend_from_slice(&(key.len() as u16).to_le_bytes());
    page.push(value.len() as u8);
    page.extend_from_slice(key);
    page.extend_from_slice(value);
}

/// The records of a stored page, in key order.
pub(crate) struct Records<'p> {
    rest: &'p [u8],
}

/// The records of `page`.
pub(crate) fn records(page: &[u8]) -> Records<'_> {
    Records { rest: page }
}

impl<'p> Iterator for Records<'p> {
    type Item = Result<(&'p [u8], &'p [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        let corrupt = || GeoError::CorruptEntry {
            reason: "truncated page record",
        };
        if self.rest.is_empty() {
            return None;
        }
        let Some(&[k0, k1, v]) = self.rest.get(..RECORD_HEADER_BYTES) else {
            self.rest = &[];
            return Some(Err(corrupt()));
        };
        let key_len = usize::from(u16::from_le_bytes([k0, k1]));
        let end = RECORD_HEADER_BYTES + key_len + usize::from(v);
        let Some(record) = self.rest.get(RECORD_HEADER_BYTES..end) else {
            self.rest = &[];
            return Some(Err(corrupt()));
        };
        self.rest = &self.rest[end..];
        Some(Ok(record.split_at(key_len)))
    }
}

/// Where pages are read from and written to: the write hook's transaction, or a build's.
pub(crate) trait PageStore {
    /// The first page whose key is `>= key`, with its key.
    fn page_at_or_after(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>>;
    /// Stores a page.
    fn put_page(&mut self, key: &[u8], page: &[u8]) -> Result<()>;
    /// Removes a page.
    fn delete_page(&mut self, key: &[u8]) -> Result<()>;
}

/// One change to the entries: put (insert or replace) when a value is given, else delete.
pub(crate) type EntryOp<'a> = (&'a [u8], Option<&'a [u8]>);

/// Applies `ops` (sorted by key, keys distinct) to the pages of `store`: each page the keys
/// fall in is read once, merged with its ops, and written back (split when too large,
/// deleted when emptied). Deleting an absent entry is a no-op.
pub(crate) fn apply(store: &mut impl PageStore, ops: &[EntryOp<'_>]) -> Result<()> {
    debug_assert!(
        ops.windows(2).all(|w| w[0].0 < w[1].0),
        "ops sorted, distinct"
    );
    // Checked before anything is written, so a refused batch leaves the pages as they were.
    for &(key, value) in ops {
        check_record(key, value.unwrap_or_default())?;
    }
    let mut rest = ops;
    while let Some(&(first, _)) = rest.first() {
        let (page_key, page) = match store.page_at_or_after(first)? {
            Some(found) => found,
            None => (SENTINEL.to_vec(), Vec::new()),
        };
        let existed = !page.is_empty();
        let take = rest
            .iter()
            .position(|(k, _)| *k > page_key.as_slice())
            .unwrap_or(rest.len());
        if take == 0 {
            // Only a key above the sentinel could land here; entry keys never are.
            return Err(GeoError::CorruptEntry {
                reason: "entry key above the last page",
            });
        }
        let (now, later) = rest.split_at(take);
        let merged = merge(&page, now)?;
        write_back(store, &page_key, existed, &merged)?;
        rest = later;
    }
    Ok(())
}

/// The records of `page` with `ops` applied, in key order.
fn merge<'a>(page: &'a [u8], ops: &[EntryOp<'a>]) -> Result<Vec<(&'a [u8], &'a [u8])>> {
    let mut out = Vec::with_capacity(ops.len() + page.len() / 64);
    let mut i = 0;
    for record in records(page) {
        let (key, value) = record?;
        while let Some(&(op_key, op_value)) = ops.get(i).filter(|(k, _)| *k < key) {
            out.extend(op_value.map(|v| (op_key, v)));
            i += 1;
        }
        match ops.get(i) {
            // Replaced or deleted: the op decides, the stored record goes.
            Some(&(op_key, op_value)) if op_key == key => {
                out.extend(op_value.map(|v| (op_key, v)));
                i += 1;
            }
            _ => out.push((key, value)),
        }
    }
    for &(op_key, op_value) in &ops[i..] {
        out.extend(op_value.map(|v| (op_key, v)));
    }
    Ok(out)
}

/// Writes a merged page back under `page_key`: as is, cut into pieces, or deleted.
fn write_back(
    store: &mut impl PageStore,
    page_key: &[u8],
    existed: bool,
    merged: &[(&[u8], &[u8])],
) -> Result<()> {
    if merged.is_empty() {
        if existed {
            store.delete_page(page_key)?;
        }
        return Ok(());
    }
    let total: usize = merged.iter().map(|(k, v)| record_bytes(k, v)).sum();
    let limit = if total > MAX_PAGE_BYTES {
        SPLIT_PAGE_BYTES
    } else {
        usize::MAX
    };
    let mut page = Vec::with_capacity(total.min(MAX_PAGE_BYTES));
    let mut start = 0;
    for (i, (key, value)) in merged.iter().enumerate() {
        let size = record_bytes(key, value);
        if i > start && page.len() + size > limit {
            // The piece so far ends at the previous record, whose key bounds it.
            store.put_page(merged[i - 1].0, &page)?;
            page.clear();
            start = i;
        }
        push_record(&mut page, key, value);
    }
    store.put_page(page_key, &page)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// Pages in a plain map, as the engine's table would hold them.
    #[derive(Default)]
    struct MapStore(BTreeMap<Vec<u8>, Vec<u8>>);

    impl PageStore for MapStore {
        fn page_at_or_after(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
            Ok(self
                .0
                .range(key.to_vec()..)
                .next()
                .map(|(k, v)| (k.clone(), v.clone())))
        }
        fn put_page(&mut self, key: &[u8], page: &[u8]) -> Result<()> {
            self.0.insert(key.to_vec(), page.to_vec());
            Ok(())
        }
        fn delete_page(&mut self, key: &[u8]) -> Result<()> {
            self.0.remove(key);
            Ok(())
        }
    }

    impl MapStore {
        /// Every entry, checking the page invariants on the way.
        fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut previous: Option<&Vec<u8>> = None;
            for (page_key, page) in &self.0 {
                assert!(!page.is_empty(), "no empty page is stored");
                for record in records(page) {
                    let (k, v) = record.unwrap();
                    assert!(k <= page_key.as_slice(), "entry within its page's bound");
                    assert!(
                        previous.is_none_or(|p| k > p.as_slice()),
                        "above the previous page"
                    );
                    assert!(
                        out.last().is_none_or(|(last, _)| k > last.as_slice()),
                        "sorted"
                    );
                    out.push((k.to_vec(), v.to_vec()));
                }
                previous = Some(page_key);
            }
            out
        }
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        // Short keys over a small alphabet collide often (replace, delete) and sort densely.
        proptest::collection::vec(0u8..6, 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Batches of puts and deletes applied to pages read back as the same map a
        /// `BTreeMap` of entries gives; pages stay within their bounds and sizes.
        #[test]
        fn pages_hold_the_same_entries_as_a_map(
            batches in proptest::collection::vec(
                proptest::collection::btree_map(key(), proptest::option::of(
                    proptest::collection::vec(any::<u8>(), 0..120)), 0..60),
                1..12),
        ) {
            let mut store = MapStore::default();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for batch in &batches {
                let ops: Vec<EntryOp<'_>> =
                    batch.iter().map(|(k, v)| (k.as_slice(), v.as_deref())).collect();
                apply(&mut store, &ops).unwrap();
                for (k, v) in batch {
                    match v {
                        Some(v) => { model.insert(k.clone(), v.clone()); }
                        None => { model.remove(k); }
                    }
                }
                let expected: Vec<_> = model.clone().into_iter().collect();
                prop_assert_eq!(store.entries(), expected);
                for page in store.0.values() {
                    let records = records(page).count();
                    prop_assert!(page.len() <= MAX_PAGE_BYTES || records == 1);
                }
            }
        }
    }

    #[test]
    fn an_oversized_value_is_refused_by_name() {
        let mut store = MapStore::default();
        let value = vec![0u8; MAX_ENTRY_VALUE_BYTES + 1];
        let err = apply(&mut store, &[(b"k".as_slice(), Some(value.as_slice()))]).unwrap_err();
        assert!(err.to_string().contains("page record limits"), "{err}");
        assert!(store.0.is_empty(), "nothing written");
    }

    #[test]
    fn a_truncated_page_is_reported_as_corrupt() {
        let mut page = Vec::new();
        push_record(&mut page, b"key", b"value");
        page.truncate(page.len() - 1);
        assert!(records(&page).any(|r| r.is_err()));
    }
}
