//! Reads shared by [`crate::TableReader`] (a snapshot's table) and [`crate::TableWriter`] (the
//! write transaction's table, which sees its own writes): both are redb readable tables of raw
//! bytes, so the logic lives here once. Every redb call runs inside [`contained`], so a damaged
//! page is an error, not a panic.

use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata};

use crate::contain::contained;
use crate::Result;

/// A table of raw bytes that can be read.
pub(crate) trait RawReadable: ReadableTable<&'static [u8], &'static [u8]> {}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> RawReadable for T {}

/// An entry copied out of the table.
pub(crate) type OwnedEntry = (Vec<u8>, Vec<u8>);

/// Looks up `key`, passing the stored value to `read` without copying it out of the page.
pub(crate) fn get_with<R>(
    table: &impl RawReadable,
    key: &[u8],
    read: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>> {
    let Some(guard) = contained("a read", || Ok(table.get(key)?))? else {
        return Ok(None);
    };
    // The value's bounds come from the page and can be out of range on a damaged one.
    let value = contained("a read", || Ok(guard.value()))?;
    Ok(Some(read(value)))
}

/// The first entry, copied out.
pub(crate) fn first(table: &impl RawReadable) -> Result<Option<OwnedEntry>> {
    contained("a read", || {
        let first = table.first()?;
        Ok(first.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
    })
}

/// The last entry, copied out.
pub(crate) fn last(table: &impl RawReadable) -> Result<Option<OwnedEntry>> {
    contained("a read", || {
        let last = table.last()?;
        Ok(last.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
    })
}

/// Number of entries (redb keeps the count; this does not scan).
pub(crate) fn len(table: &impl ReadableTableMetadata) -> Result<u64> {
    contained("a table count", || Ok(table.len()?))
}

/// The last entry whose key is at most `key` (one descent), passed to `read` without copying.
/// Packed tables (a key names the first of several entries stored in one value) find the value
/// holding a key this way.
pub(crate) fn floor_with<R>(
    table: &impl RawReadable,
    key: &[u8],
    read: impl FnOnce(&[u8], &[u8]) -> R,
) -> Result<Option<R>> {
    let found = contained("a read", || {
        let mut range = table.range::<&[u8]>((Bound::Unbounded, Bound::Included(key)))?;
        Ok(range.next_back().transpose()?)
    })?;
    let Some((k, v)) = found else {
        return Ok(None);
    };
    // The bounds come from the page and can be out of range on a damaged one.
    let (k, v) = contained("a read", || Ok((k.value(), v.value())))?;
    Ok(Some(read(k, v)))
}

/// The first entry whose key is above `key`, copied out.
pub(crate) fn after(table: &impl RawReadable, key: &[u8]) -> Result<Option<OwnedEntry>> {
    contained("a read", || {
        let mut range = table.range::<&[u8]>((Bound::Excluded(key), Bound::Unbounded))?;
        let next = range.next().transpose()?;
        Ok(next.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
    })
}
