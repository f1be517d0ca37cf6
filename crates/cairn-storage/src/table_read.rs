//! Reads shared by [`crate::TableReader`] (a snapshot's table) and [`crate::TableWriter`] (the
//! write transaction's table, which sees its own writes): both are redb readable tables of raw
//! bytes, so the logic lives here once.

use redb::{ReadableTable, ReadableTableMetadata};

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
    let guard = table.get(key)?;
    Ok(guard.map(|value| read(value.value())))
}

/// The first entry, copied out.
pub(crate) fn first(table: &impl RawReadable) -> Result<Option<OwnedEntry>> {
    let first = table.first()?;
    Ok(first.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
}

/// The last entry, copied out.
pub(crate) fn last(table: &impl RawReadable) -> Result<Option<OwnedEntry>> {
    let last = table.last()?;
    Ok(last.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
}

/// Number of entries (redb keeps the count; this does not scan).
pub(crate) fn len(table: &impl ReadableTableMetadata) -> Result<u64> {
    Ok(table.len()?)
}
