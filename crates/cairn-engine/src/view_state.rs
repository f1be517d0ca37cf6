//! What the engine derives once per shared storage view.
//!
//! Snapshots taken while no commit lands in between share one storage view (see
//! `cairn-storage`'s `snapshot_cache.rs`), so what a transaction derives purely from its
//! snapshot is the same for all of them: the last commit the view contains, and the handles of
//! the collections it resolved from the view's catalog. Computing them once per view takes the
//! change-log lookup and the catalog read off every later transaction's path. The state lives
//! exactly as long as the view.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use crate::collection::CollectionHandle;
use crate::limits::MAX_VIEW_COLLECTIONS;

/// Derived state of one storage view.
#[derive(Default)]
pub(crate) struct ViewState {
    /// Sequence number of the last commit the view contains.
    pub(crate) seq: OnceLock<u64>,
    /// Collections resolved from the view's catalog, by name. Only a transaction with no
    /// pending catalog change may use or fill it (its catalog is the view's).
    collections: RwLock<HashMap<String, Arc<CollectionHandle>, foldhash::fast::RandomState>>,
}

impl ViewState {
    /// The handle resolved earlier from this view's catalog entry for `name`.
    pub(crate) fn collection(&self, name: &str) -> Option<Arc<CollectionHandle>> {
        self.collections.read().get(name).cloned()
    }

    /// Remembers the handle resolved from this view's catalog entry for `name` (up to
    /// [`MAX_VIEW_COLLECTIONS`]; past it, later collections are resolved per transaction).
    pub(crate) fn remember_collection(&self, name: &str, handle: &Arc<CollectionHandle>) {
        let mut collections = self.collections.write();
        if collections.len() < MAX_VIEW_COLLECTIONS {
            collections.insert(name.to_string(), handle.clone());
        }
    }
}
