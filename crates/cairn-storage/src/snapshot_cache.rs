//! One shared read view per commit: snapshots taken while no commit lands in between share a
//! single storage read transaction (and the tables it has opened) instead of each starting one.
//!
//! Invariants:
//! * **Never stale.** Every commit bumps the store's commit counter after the storage engine
//!   made it visible and before the commit returns (every write path goes through
//!   [`crate::WriteTxn`]; see `write.rs`). A view is reused only while the counter still holds
//!   the value read before the view was begun, so a snapshot taken after a commit returned
//!   always sees that commit. A view may see a commit whose counter bump has not happened
//!   yet — exactly what a fresh read transaction started at that instant would see.
//! * **Monotonic.** The counter is read and a view begun under one lock, so at most one view
//!   exists per counter value and a later one never shows less than an earlier one.
//! * **No pinning beyond the next commit.** The cache holds its view strongly (so back-to-back
//!   readers share it even when none of them overlaps), but a commit drops the cache's hold
//!   ([`SnapshotCache::release_stale`]); users still holding the view keep it alive, and it
//!   goes when the last of them drops it. Operations that need no live read transaction
//!   (compaction, integrity check, closing) call [`SnapshotCache::clear`] first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::snapshot::{SharedView, Snapshot};
use crate::Result;

/// The view of the latest commit, if one was taken since it.
#[derive(Default)]
pub(crate) struct SnapshotCache {
    current: Mutex<Option<CachedView>>,
    /// Source of view ids (see [`Snapshot::id`]).
    next_id: AtomicU64,
}

struct CachedView {
    /// The commit counter read (under the lock) before the view was begun.
    commits: u64,
    view: Arc<SharedView>,
}

impl SnapshotCache {
    /// A snapshot at least as new as every commit counted in `commits` so far: the cached view
    /// when no commit was counted since it was taken, otherwise a fresh one from `begin`.
    pub(crate) fn snapshot(
        &self,
        commits: &AtomicU64,
        begin: impl FnOnce() -> Result<redb::ReadTransaction>,
    ) -> Result<Snapshot> {
        let mut current = self.current.lock();
        // Read under the lock: a view cached under this value was begun after it was counted.
        let counted = commits.load(Ordering::Acquire);
        if let Some(cached) = current.as_ref().filter(|cached| cached.commits == counted) {
            return Ok(Snapshot::from_view(cached.view.clone()));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let view = Arc::new(SharedView::new(begin()?, id));
        let replaced = current.replace(CachedView {
            commits: counted,
            view: view.clone(),
        });
        drop(current);
        // Dropping the last hold on a read transaction does storage work; not under the lock.
        drop(replaced);
        Ok(Snapshot::from_view(view))
    }

    /// Drops the cache's hold on a view older than the latest counted commit, so an idle
    /// database does not pin pages the writer has replaced. Called after every commit.
    pub(crate) fn release_stale(&self, commits: &AtomicU64) {
        let mut current = self.current.lock();
        let counted = commits.load(Ordering::Acquire);
        let stale = match current.as_ref() {
            Some(cached) if cached.commits != counted => current.take(),
            _ => None,
        };
        drop(current);
        drop(stale);
    }

    /// Drops the cache's hold on its view, whatever its age.
    pub(crate) fn clear(&self) {
        let taken = self.current.lock().take();
        drop(taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableDatabase;

    fn database() -> redb::Database {
        redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("in-memory database")
    }

    #[test]
    fn the_cache_holds_its_view_only_until_the_next_commit() {
        let db = database();
        let cache = SnapshotCache::default();
        let commits = AtomicU64::new(0);
        let first = cache
            .snapshot(&commits, || Ok(db.begin_read()?))
            .expect("snapshot");
        let id = first.id();
        drop(first);
        // No commit: the dropped snapshot's view is still the cached one, and is reused.
        cache.release_stale(&commits);
        assert!(cache.current.lock().is_some());
        let again = cache
            .snapshot(&commits, || Ok(db.begin_read()?))
            .expect("snapshot");
        assert_eq!(again.id(), id);
        drop(again);
        // A commit: the cache lets go, and the next snapshot is a new view.
        commits.fetch_add(1, Ordering::AcqRel);
        cache.release_stale(&commits);
        assert!(cache.current.lock().is_none());
        let fresh = cache
            .snapshot(&commits, || Ok(db.begin_read()?))
            .expect("snapshot");
        assert_ne!(fresh.id(), id);
        cache.clear();
        assert!(cache.current.lock().is_none());
    }
}
