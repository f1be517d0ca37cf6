//! The index's content stamp: a value written to [`META_TABLE`] by every transaction that
//! writes the entries table, so the stamp a snapshot sees names exactly the entries it sees.
//!
//! A stamp is 16 bytes: a random 64-bit base chosen once per process, then a per-process
//! counter. Two commits never write the same stamp (within a process the counter differs,
//! across processes the base does), so two snapshots that read the same stamp of an index read
//! the same entries — which is what lets [`crate::index::cache`] share decoded entries between
//! snapshots without ever serving one the entries of another.
//!
//! The stamp is written *blind* (never read by a writing transaction). The engine validates
//! reads, not writes (serializable OCC), so concurrent writers never conflict over it; the
//! last commit of a group commit simply wins, and its value is still unique to that state.
//! Copies of a whole snapshot (full backups) carry the stamp with the entries, so the pair
//! stays consistent; replays (incremental restore) run the write hook and stamp afresh.

pub use crate::index::layout::STAMP_KEY;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use cairn_engine::{ExtensionTxn, Result as EngineResult, Transaction};

use crate::error::{GeoError, Result};
use crate::index::maintain::META_TABLE;

/// Bytes of a stored stamp.
pub const STAMP_BYTES: usize = 16;

/// Stamps issued by this process (the low half of each).
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// This process's random base (the high half of each stamp). `RandomState` is seeded from
/// the operating system's randomness; the clock and process id are mixed in as well.
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

/// A stamp never issued before (by any process, with overwhelming probability).
pub fn fresh() -> u128 {
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    (u128::from(process_base()) << 64) | u128::from(count)
}

/// Writes a fresh stamp in the write hook's transaction (blind: nothing is read).
pub fn write_in_hook(txn: &mut ExtensionTxn<'_>) -> EngineResult<()> {
    txn.put(META_TABLE, STAMP_KEY, &fresh().to_be_bytes())
}

/// Writes a fresh stamp from a builder's transaction (blind: nothing is read).
pub fn write_in_txn(txn: &mut Transaction, collection: &str, index: &str) -> EngineResult<()> {
    txn.extension_put(
        collection,
        index,
        META_TABLE,
        STAMP_KEY,
        &fresh().to_be_bytes(),
    )
}

/// The stamp of an index as `txn` sees it; `None` for an index written before stamps existed.
pub fn read(txn: &mut Transaction, collection: &str, index: &str) -> Result<Option<u128>> {
    match txn.extension_get(collection, index, META_TABLE, STAMP_KEY)? {
        None => Ok(None),
        Some(bytes) => {
            let bytes: [u8; STAMP_BYTES] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| GeoError::CorruptEntry {
                        reason: "stamp is not 16 bytes",
                    })?;
            Ok(Some(u128::from_be_bytes(bytes)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_never_repeated_and_share_the_process_base() {
        let a = fresh();
        let b = fresh();
        assert_ne!(a, b);
        assert_eq!(a >> 64, b >> 64);
    }
}
