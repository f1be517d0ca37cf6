//! The page cache: stored entry pages (`pages.rs`), copied as they are read, shared by every
//! read-only snapshot of the same index content, process-wide.
//!
//! Keyed by stamp (`stamp.rs`) like the bucket cache, and for the same reason: two snapshots
//! that read the same stamp read the same pages, so a page copied from one is exactly what any
//! other would read. Below the bucket cache: a search whose buckets are cold walks the pages,
//! and a jump to a cached page is a lookup in an ordered map instead of a B-tree descent
//! through the storage engine (which, per page it touches, takes a lock, hashes, and clones a
//! handle). Copying a page costs a memcpy, with no decoding, so pages are admitted on first
//! read: even a single pass over a region pays back on the next query that lands near it.
//!
//! Each cached page remembers the span of keys it is known to answer for: from the lowest
//! key a read was looking for when the storage engine returned it (no page key lies between
//! that key and the page's), up to its own key. A lookup hits only inside that span, so the
//! cache never answers for a gap it has not seen.
//!
//! Bounded by [`MAX_PAGE_CACHE_BYTES`] and [`MAX_PAGE_CACHE_STAMPS`]: a new stamp past the
//! latter evicts the least recently added stamp's pages (an index that changed leaves its old
//! pages unreachable); going past the byte bound clears the cache, which refills as queries
//! read.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub use crate::index::limits::{MAX_PAGE_CACHE_BYTES, MAX_PAGE_CACHE_STAMPS};
use parking_lot::RwLock;

/// Bytes charged per page besides its bytes and keys (map node, `Arc`, headers).
const PAGE_OVERHEAD_BYTES: usize = 96;

/// One cached page.
#[derive(Debug)]
pub struct CachedPage {
    /// The page's key (the highest key it may hold).
    pub key: Vec<u8>,
    /// The lowest key this page is known to answer for.
    from: Vec<u8>,
    /// The stored page value.
    pub bytes: Vec<u8>,
}

impl CachedPage {
    fn charge(&self) -> usize {
        self.key.len() + self.from.len() + self.bytes.len() + PAGE_OVERHEAD_BYTES
    }
}

/// The pages of one index content, by page key; a search holds it for its whole walk, so
/// each page lookup takes one shared lock.
#[derive(Default)]
pub struct StampPages {
    map: RwLock<PageMap>,
}

#[derive(Default)]
struct PageMap {
    pages: BTreeMap<Vec<u8>, Arc<CachedPage>>,
    /// Evicted or cleared: no longer reachable from the cache, so nothing more is added (it
    /// would be charged and never freed).
    detached: bool,
}

impl StampPages {
    /// The page answering for `key` (the first page whose key is `>= key`, if its known span
    /// reaches down to `key`).
    pub fn lookup(&self, key: &[u8]) -> Option<Arc<CachedPage>> {
        let map = self.map.read();
        let (_, page) = map
            .pages
            .range::<[u8], _>((std::ops::Bound::Included(key), std::ops::Bound::Unbounded))
            .next()?;
        (page.from.as_slice() <= key).then(|| page.clone())
    }

    /// Detaches the map and returns the bytes its pages were charged.
    fn detach(&self) -> usize {
        let mut map = self.map.write();
        map.detached = true;
        let freed = map.pages.values().map(|p| p.charge()).sum();
        map.pages.clear();
        freed
    }
}

/// The cached stamps: their pages, and the order they were added in (oldest first).
#[derive(Default)]
struct Stamps {
    pages: HashMap<u128, Arc<StampPages>>,
    order: VecDeque<u128>,
}

/// The process-wide page cache.
#[derive(Default)]
pub struct PageCache {
    stamps: RwLock<Stamps>,
    bytes: AtomicUsize,
}

/// The process-wide page cache.
pub fn global() -> &'static PageCache {
    static CACHE: OnceLock<PageCache> = OnceLock::new();
    CACHE.get_or_init(PageCache::default)
}

impl PageCache {
    /// Caches the page `(key, bytes)`, read as the first page whose key is `>= from`, in the
    /// pages of a stamp (from [`PageCache::pages`]), and returns it.
    pub fn insert_into(
        &self,
        pages: &StampPages,
        from: &[u8],
        key: Vec<u8>,
        bytes: Vec<u8>,
    ) -> Arc<CachedPage> {
        let page = CachedPage {
            key,
            from: from.to_vec(),
            bytes,
        };
        let mut map = pages.map.write();
        if map.detached {
            return Arc::new(page);
        }
        if let Some(known) = map.pages.get(&page.key) {
            if known.from.as_slice() <= from {
                return known.clone();
            }
            // The same page, now known from lower down.
            self.bytes.fetch_sub(known.charge(), Ordering::Relaxed);
        }
        let page = Arc::new(page);
        let charge = page.charge();
        if self.bytes.fetch_add(charge, Ordering::Relaxed) + charge > MAX_PAGE_CACHE_BYTES {
            map.pages.remove(&page.key);
            drop(map);
            self.clear();
            return page;
        }
        map.pages.insert(page.key.clone(), page.clone());
        page
    }

    /// The page map of `stamp`, created (evicting the oldest stamp when full) if missing.
    pub fn pages(&self, stamp: u128) -> Arc<StampPages> {
        if let Some(pages) = self.stamps.read().pages.get(&stamp) {
            return pages.clone();
        }
        let mut guard = self.stamps.write();
        let Stamps {
            pages: by_stamp,
            order,
        } = &mut *guard;
        if let Some(pages) = by_stamp.get(&stamp) {
            return pages.clone();
        }
        while order.len() >= MAX_PAGE_CACHE_STAMPS {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            if let Some(pages) = by_stamp.remove(&oldest) {
                self.bytes.fetch_sub(pages.detach(), Ordering::Relaxed);
            }
        }
        let pages = Arc::new(StampPages::default());
        by_stamp.insert(stamp, pages.clone());
        order.push_back(stamp);
        pages
    }

    /// Bytes the cached pages occupy.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Drops every cached page.
    pub fn clear(&self) {
        let mut guard = self.stamps.write();
        for (_, pages) in guard.pages.drain() {
            self.bytes.fetch_sub(pages.detach(), Ordering::Relaxed);
        }
        guard.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page answering for `key` under `stamp`, without creating the stamp's map.
    fn lookup(cache: &PageCache, stamp: u128, key: &[u8]) -> Option<Arc<CachedPage>> {
        let pages = cache.stamps.read().pages.get(&stamp)?.clone();
        pages.lookup(key)
    }

    fn insert(cache: &PageCache, stamp: u128, from: &[u8], key: &[u8], bytes: Vec<u8>) {
        cache.insert_into(&cache.pages(stamp), from, key.to_vec(), bytes);
    }

    #[test]
    fn a_lookup_hits_only_inside_the_known_span() {
        let cache = PageCache::default();
        insert(&cache, 7, b"d", b"k", vec![1]);
        assert!(lookup(&cache, 7, b"d").is_some());
        assert!(lookup(&cache, 7, b"k").is_some());
        assert!(lookup(&cache, 7, b"c").is_none(), "below the span: unknown");
        assert!(lookup(&cache, 7, b"l").is_none(), "past the page");
        assert!(lookup(&cache, 8, b"e").is_none(), "another stamp");
        // Learning the page from lower down widens its span.
        insert(&cache, 7, b"a", b"k", vec![1]);
        assert!(lookup(&cache, 7, b"b").is_some());
    }

    #[test]
    fn old_stamps_are_evicted_and_bytes_accounted() {
        let cache = PageCache::default();
        for stamp in 0..(MAX_PAGE_CACHE_STAMPS as u128 + 2) {
            insert(&cache, stamp, b"a", b"z", vec![0; 100]);
        }
        assert!(lookup(&cache, 0, b"b").is_none());
        assert!(lookup(&cache, MAX_PAGE_CACHE_STAMPS as u128 + 1, b"b").is_some());
        let per_page = 1 + 1 + 100 + PAGE_OVERHEAD_BYTES;
        assert_eq!(cache.bytes(), MAX_PAGE_CACHE_STAMPS * per_page);
        cache.clear();
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_map_held_past_its_eviction_takes_no_more_pages() {
        let cache = PageCache::default();
        let held = cache.pages(1);
        cache.clear();
        cache.insert_into(&held, b"a", b"z".to_vec(), vec![0; 10]);
        assert_eq!(cache.bytes(), 0, "nothing charged for a detached map");
        assert!(held.lookup(b"b").is_none());
    }
}
