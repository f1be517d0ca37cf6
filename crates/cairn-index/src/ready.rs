//! Whether an index's online build has finished, as a write sees it.
//!
//! While a build runs, the write hook must store a written document's *whole* entry set, not
//! just what changed: the build skips every document changed after its snapshot, so an entry
//! the old and new versions share may not be stored yet. Once the index is ready, the
//! difference is enough. Shared by every index kind that builds online (secondary, spatial).

use std::sync::atomic::{AtomicBool, Ordering};

use cairn_engine::{ExtensionTxn, Result as EngineResult};

/// A per-instance cache of an index's ready flag. The flag never goes back to unready (a drop
/// detaches the instance), so once a write has seen it, later writes skip reading it.
#[derive(Debug, Default)]
pub struct ReadyFlag(AtomicBool);

impl ReadyFlag {
    /// Whether the index is complete as `txn` sees it: the key `ready_key` exists in the
    /// extension's table `meta_table`.
    pub fn is_ready(
        &self,
        txn: &mut ExtensionTxn<'_>,
        meta_table: &str,
        ready_key: &[u8],
    ) -> EngineResult<bool> {
        if self.0.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let ready = txn.get(meta_table, ready_key)?.is_some();
        if ready {
            self.0.store(true, Ordering::Relaxed);
        }
        Ok(ready)
    }
}
