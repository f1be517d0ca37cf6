//! Reading an index's entries table with visitors that can fail with a [`GeoError`]
//! (a corrupt key, a part that does not decode, a caller's own error).
//!
//! The engine's readers take visitors that return engine results; these wrappers keep the
//! first error a visitor returns, stop the read there, and hand that error back, so every
//! reader of the table gets the same stop-on-error behaviour without repeating it.

use std::ops::Bound;

use cairn_engine::{ScanStep, Transaction};

use crate::error::{GeoError, Result};
use crate::index::maintain::ENTRIES_TABLE;

/// Walks the entries of `index` from `start` with the engine's guided scan (`visit` answers
/// each entry: next, stop, or seek to a later key).
pub(crate) fn guided(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    start: &[u8],
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<ScanStep>,
) -> Result<()> {
    let mut failure: Option<GeoError> = None;
    txn.extension_guided_scan(collection, index, ENTRIES_TABLE, start, |key, value| {
        visit(key, value).or_else(|err| {
            failure = Some(err);
            Ok(ScanStep::Stop)
        })
    })?;
    failure.map_or(Ok(()), Err)
}

/// Reads the entries of `index` between `start` and `end` in key order, while `visit`
/// returns true.
pub(crate) fn range(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    (start, end): (Bound<&[u8]>, Bound<&[u8]>),
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    let mut failure: Option<GeoError> = None;
    txn.extension_range(
        collection,
        index,
        ENTRIES_TABLE,
        start,
        end,
        |key, value| {
            visit(key, value).or_else(|err| {
                failure = Some(err);
                Ok(false)
            })
        },
    )?;
    failure.map_or(Ok(()), Err)
}
