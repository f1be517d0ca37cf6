//! The index's content stamp: a value written to [`META_TABLE`] by every transaction that
//! changes the graph (through `Nodes`, the one writer of its tables), so the stamp a snapshot
//! sees names exactly the graph it sees. The resident images (`resident.rs`) are keyed by it.
//!
//! A stamp is 16 bytes: a random 64-bit base chosen once per process, then a per-process
//! counter, so two commits never write the same stamp (as `cairn-geo`'s stamps). It is
//! written *blind* (never read by a writing transaction): the engine validates reads, not
//! writes, so concurrent writers never conflict over it.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use cairn_engine::Transaction;

use crate::error::{Result, VectorError};
use crate::layout::META_TABLE;

/// Key in [`META_TABLE`] of the stamp.
pub(crate) const STAMP_KEY: &[u8] = b"stamp";

/// Stamps issued by this process (the low half of each).
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// This process's random base (the high half of each stamp): `RandomState` is seeded from the
/// operating system's randomness; the clock and process id are mixed in as well.
fn process_base() -> u64 {
    static BASE: OnceLock<u64> = OnceLock::new();
    *BASE.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.finish()
    })
}

/// A stamp never issued before (by any process, with overwhelming probability), as stored.
pub(crate) fn fresh() -> [u8; 16] {
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    ((u128::from(process_base()) << 64) | u128::from(count)).to_be_bytes()
}

/// The stamp of an index as `txn` sees it; `None` for an index written before stamps existed
/// (it is never resident until its next write).
pub(crate) fn read(txn: &mut Transaction, collection: &str, index: &str) -> Result<Option<u128>> {
    match txn.extension_get(collection, index, META_TABLE, STAMP_KEY)? {
        None => Ok(None),
        Some(bytes) => {
            let bytes: [u8; 16] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| VectorError::Corrupt {
                        index: index.to_string(),
                        reason: "the content stamp is not 16 bytes",
                    })?;
            Ok(Some(u128::from_be_bytes(bytes)))
        }
    }
}
