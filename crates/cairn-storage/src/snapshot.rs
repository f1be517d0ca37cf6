//! Consistent read views.

use std::any::Any;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use redb::ReadableTableMetadata;

use crate::contain::contained;
use crate::limits::MAX_OPEN_TABLES_PER_SNAPSHOT;
use crate::table_read;
use crate::{Result, StorageError};

/// The redb type of one opened table.
type RawReadOnly = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The redb table type behind every Cairn table: ordered raw bytes to raw bytes.
pub(crate) type RawTable<'n> = redb::TableDefinition<'n, &'static [u8], &'static [u8]>;

/// A consistent, immutable view of the whole store as of one commit.
///
/// Taking a snapshot never waits for the writer, and the writer never waits for snapshots: the
/// storage engine is copy-on-write (MVCC). A live snapshot pins the pages it sees, so long-lived
/// snapshots delay space reuse; the engine layer bounds their lifetime.
///
/// Snapshots taken while no commit lands in between are one and the same view, shared (see
/// `snapshot_cache.rs`); cloning one is cheap and shares it too. The tables a view has opened
/// stay open for all its users (up to [`MAX_OPEN_TABLES_PER_SNAPSHOT`]).
#[derive(Clone)]
pub struct Snapshot {
    view: Arc<SharedView>,
}

/// One storage read transaction and the tables opened in it so far.
pub(crate) struct SharedView {
    txn: redb::ReadTransaction,
    id: u64,
    /// Opened tables by name; `None` records that the table does not exist in this view.
    tables: RwLock<HashMap<Box<str>, Option<Arc<RawReadOnly>>, foldhash::fast::RandomState>>,
    /// What the layer above derived from this view (see [`Snapshot::derived`]).
    derived: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl SharedView {
    pub(crate) fn new(txn: redb::ReadTransaction, id: u64) -> Self {
        SharedView {
            txn,
            id,
            tables: RwLock::new(HashMap::default()),
            derived: OnceLock::new(),
        }
    }
}

impl Snapshot {
    pub(crate) fn from_view(view: Arc<SharedView>) -> Self {
        Snapshot { view }
    }

    /// Identifies the view: two snapshots with the same id see exactly the same state (they
    /// share one storage read transaction). Ids are never reused within one open store, so a
    /// caller may remember something it derived from a view under its id.
    pub fn id(&self) -> u64 {
        self.view.id
    }

    /// State the layer above derives from this view (the engine keeps the view's commit
    /// number and resolved collections there), made by `init` on first use and then shared by
    /// every snapshot of the view; it lives exactly as long as the view. One type per view:
    /// asking for another type than the first one gets a fresh, unshared value.
    pub fn derived<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        if let Some(stored) = self.view.derived.get() {
            return stored
                .clone()
                .downcast()
                .unwrap_or_else(|_| Arc::new(init()));
        }
        let value = Arc::new(init());
        // Another user may have stored first; then its value is the shared one.
        let stored = self.view.derived.get_or_init(|| value.clone());
        stored.clone().downcast().unwrap_or(value)
    }

    /// Opens one table of this snapshot; `None` when the table does not exist in it.
    ///
    /// The returned reader owns what it needs and may outlive `self`, still seeing this
    /// snapshot's state. Opening a table the view already opened costs a map lookup.
    pub fn table(&self, name: &str) -> Result<Option<TableReader>> {
        if let Some(opened) = self.view.tables.read().get(name) {
            return Ok(opened.clone().map(|table| TableReader { table }));
        }
        let opened = contained("opening a table", || {
            match self.view.txn.open_table(RawTable::new(name)) {
                Ok(table) => Ok(Some(Arc::new(table))),
                Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
                Err(err) => Err(err.into()),
            }
        })?;
        let mut tables = self.view.tables.write();
        if tables.len() < MAX_OPEN_TABLES_PER_SNAPSHOT {
            tables.insert(name.into(), opened.clone());
        }
        Ok(opened.map(|table| TableReader { table }))
    }

    /// Names of all tables that exist in this snapshot.
    pub fn table_names(&self) -> Result<Vec<String>> {
        use redb::TableHandle;
        contained("listing tables", || {
            let names = self
                .view
                .txn
                .list_tables()
                .map_err(StorageError::from)?
                .map(|handle| handle.name().to_string())
                .filter(|name| !crate::wal::is_private_table(name))
                .collect();
            Ok(names)
        })
    }
}

/// Read access to one table within a [`Snapshot`].
#[derive(Clone)]
pub struct TableReader {
    table: Arc<RawReadOnly>,
}

impl TableReader {
    /// Looks up `key`, passing the stored value to `read` without copying it out of the page.
    pub fn get_with<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        table_read::get_with(&*self.table, key, read)
    }

    /// Looks up `key` and copies its value out.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// Iterates the entries whose keys lie within `(start, end)`, in key order.
    pub fn range<'a>(&'a self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<RangeIter<'a>> {
        let range = contained("a range read", || {
            Ok(self.table.range::<&[u8]>((start, end))?)
        })?;
        Ok(RangeIter { range })
    }

    /// Iterates the entries whose keys start with `prefix`, in key order.
    pub fn prefix<'a>(&'a self, prefix: &[u8]) -> Result<RangeIter<'a>> {
        match prefix_end(prefix) {
            Some(end) => self.range(Bound::Included(prefix), Bound::Excluded(&end)),
            None => self.range(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    /// The last entry whose key is at most `key`, passed to `read` without copying (one
    /// descent): how a packed table finds the value holding a key.
    pub fn floor_with<R>(
        &self,
        key: &[u8],
        read: impl FnOnce(&[u8], &[u8]) -> R,
    ) -> Result<Option<R>> {
        table_read::floor_with(&*self.table, key, read)
    }

    /// The first entry whose key is above `key`, copied out.
    pub fn after(&self, key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        table_read::after(&*self.table, key)
    }

    /// The last entry of the table, if any.
    pub fn last(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        table_read::last(&*self.table)
    }

    /// The first entry of the table, if any.
    pub fn first(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        table_read::first(&*self.table)
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64> {
        table_read::len(&*self.table)
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(table_read::len(&*self.table)? == 0)
    }

    /// Space used by this table in the data file.
    pub fn stats(&self) -> Result<TableStats> {
        contained("table statistics", || {
            let stats = self.table.stats()?;
            Ok(TableStats {
                entries: self.table.len()?,
                stored_bytes: stats.stored_bytes(),
                allocated_bytes: stats.stored_bytes()
                    + stats.metadata_bytes()
                    + stats.fragmented_bytes(),
            })
        })
    }
}

/// Space accounting for one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Number of entries.
    pub entries: u64,
    /// Bytes of keys and values stored (the payload).
    pub stored_bytes: u64,
    /// Bytes of pages the table occupies in the file, payload plus B-tree overhead.
    pub allocated_bytes: u64,
}

impl std::ops::AddAssign for TableStats {
    fn add_assign(&mut self, other: TableStats) {
        self.entries += other.entries;
        self.stored_bytes += other.stored_bytes;
        self.allocated_bytes += other.allocated_bytes;
    }
}

/// An iterator over a key range; items borrow the stored bytes without copying.
pub struct RangeIter<'a> {
    range: redb::Range<'a, &'static [u8], &'static [u8]>,
}

impl<'a> Iterator for RangeIter<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let range = &mut self.range;
        let item = match contained("a range read", || Ok(range.next())) {
            Ok(item) => item?,
            Err(err) => return Some(Err(err)),
        };
        Some(item.map_err(StorageError::from).and_then(Entry::checked))
    }
}

impl DoubleEndedIterator for RangeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let range = &mut self.range;
        let item = match contained("a range read", || Ok(range.next_back())) {
            Ok(item) => item?,
            Err(err) => return Some(Err(err)),
        };
        Some(item.map_err(StorageError::from).and_then(Entry::checked))
    }
}

/// One entry read from a range; key and value are borrowed from the storage page.
pub struct Entry<'a> {
    key: redb::AccessGuard<'a, &'static [u8]>,
    value: redb::AccessGuard<'a, &'static [u8]>,
}

impl<'a> Entry<'a> {
    /// Wraps an entry read from a page, first checking (contained) that its key and value lie
    /// within the page: `key()` and `value()` recompute the same bounds, so once this passed
    /// they cannot panic.
    fn checked(
        (key, value): (
            redb::AccessGuard<'a, &'static [u8]>,
            redb::AccessGuard<'a, &'static [u8]>,
        ),
    ) -> Result<Self> {
        contained("a range read", || {
            let _ = (key.value(), value.value());
            Ok(())
        })?;
        Ok(Entry { key, value })
    }
}

impl Entry<'_> {
    /// The entry's key.
    pub fn key(&self) -> &[u8] {
        self.key.value()
    }

    /// The entry's value.
    pub fn value(&self) -> &[u8] {
        self.value.value()
    }
}

/// The smallest key greater than every key starting with `prefix`; `None` when no such key
/// exists (the prefix is empty or all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_next_key_after_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
