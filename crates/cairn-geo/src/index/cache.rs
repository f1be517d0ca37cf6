//! The bucket cache: decoded spatial-index entries shared by every read-only snapshot of the
//! same index content, process-wide.
//!
//! Keyed by `(stamp, level, bucket)`. The stamp (`stamp.rs`) is rewritten by every commit
//! that changes the index, and two snapshots reading the same stamp read the same entries, so
//! a bucket decoded from one snapshot is exactly what any other snapshot with that stamp would
//! read: the cache can never serve stale or future entries, whatever commits in between.
//! Only transactions that record no reads use it (`Transaction::records_reads`): they see
//! exactly their storage snapshot (no pending writes) and owe the commit nothing.
//!
//! A bucket holds its entries decoded in a few flat vectors — no allocation per entry: the
//! bounding box rounded outward to `f32` (what the hot loop rejects on), the part, and the
//! document key in one shared byte buffer. Empty buckets are cached too. The non-empty levels
//! of each stamp, with each level's bucket shift, are cached beside them.
//!
//! Bounded by [`MAX_CACHE_BYTES`], split over [`SHARDS`] shards behind read-write locks (hits
//! take a shared lock and clone an `Arc`, so reader threads do not serialize). A shard over its
//! share evicts first the buckets of other stamps (an index that changed leaves its old
//! buckets unreachable), then arbitrary buckets until it is back under three quarters.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use crate::index::bucket::LevelLayout;
pub use crate::index::limits::{MAX_BUCKET_BYTES, MAX_CACHED_STAMPS, MAX_CACHE_BYTES, SHARDS};
use crate::primitive::{Aabb, Primitive};

/// Bytes charged per bucket besides its vectors (the map slot, the `Arc`, the vectors'
/// headers).
const BUCKET_OVERHEAD_BYTES: usize = 160;

/// One cached bucket: its entries in key order, decoded.
#[derive(Debug, Default)]
pub struct Bucket {
    /// Per entry: the part's bounding box rounded outward to `f32` (`min` then `max`), so a
    /// box test on it never rejects a part whose exact box passes.
    boxes: Vec<[f32; 6]>,
    /// Per entry: the part.
    parts: Vec<Primitive>,
    /// Per entry: where its document key ends in `keys` (it starts where the previous ends).
    key_ends: Vec<u32>,
    /// The document keys, back to back.
    keys: Vec<u8>,
    /// Distinct documents among the entries (set by [`Bucket::finish`]).
    docs: u32,
}

impl Bucket {
    /// An empty bucket with room for `entries` entries whose document keys take about
    /// `key_bytes` bytes each, so that filling it to that size never reallocates.
    pub fn with_capacity(entries: usize, key_bytes: usize) -> Bucket {
        Bucket {
            boxes: Vec::with_capacity(entries),
            parts: Vec::with_capacity(entries),
            key_ends: Vec::with_capacity(entries),
            keys: Vec::with_capacity(entries * key_bytes),
            docs: 0,
        }
    }

    /// Adds an entry (in key order).
    pub fn push(&mut self, doc_key: &[u8], part: Primitive) {
        self.boxes.push(outward(&part.bbox()));
        self.parts.push(part);
        self.keys.extend_from_slice(doc_key);
        // Loading stops at `MAX_BUCKET_BYTES` (16 MiB), so offsets stay far below 4 GiB;
        // saturating keeps even a misuse from wrapping.
        self.key_ends
            .push(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Bytes the bucket occupies (what the cache charges for it).
    pub fn bytes(&self) -> usize {
        BUCKET_OVERHEAD_BYTES
            + self.boxes.capacity() * std::mem::size_of::<[f32; 6]>()
            + self.parts.capacity() * std::mem::size_of::<Primitive>()
            + self.key_ends.capacity() * 4
            + self.keys.capacity()
    }

    /// Distinct documents among the entries (a density figure for `$near`'s first radius).
    pub fn docs(&self) -> u32 {
        self.docs
    }

    /// Counts the distinct documents and drops spare capacity, before the bucket is shared.
    pub fn finish(&mut self) {
        let mut keys: Vec<&[u8]> = Vec::with_capacity(self.len());
        let mut start = 0;
        for &end in &self.key_ends {
            keys.push(&self.keys[start..end as usize]);
            start = end as usize;
        }
        keys.sort_unstable();
        keys.dedup();
        self.docs = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        // Give back room only when at least half is unused: each shrink is a copy, and
        // buckets are sized for their level's typical count to begin with.
        fn trim<T>(v: &mut Vec<T>) {
            if v.capacity() > 2 * v.len() {
                v.shrink_to_fit();
            }
        }
        trim(&mut self.boxes);
        trim(&mut self.parts);
        trim(&mut self.key_ends);
        trim(&mut self.keys);
    }

    /// Calls `visit(doc_key, part)` for every entry whose `f32` box overlaps `query` (given as
    /// `f32` bounds rounded outward by [`outward`]), until it returns false; returns whether
    /// it went to the end.
    pub fn for_each_overlapping<E>(
        &self,
        query: &[f32; 6],
        mut visit: impl FnMut(&[u8], &Primitive) -> Result<bool, E>,
    ) -> Result<bool, E> {
        for (i, b) in self.boxes.iter().enumerate() {
            let overlaps = b[0] <= query[3]
                && query[0] <= b[3]
                && b[1] <= query[4]
                && query[1] <= b[4]
                && b[2] <= query[5]
                && query[2] <= b[5];
            if !overlaps {
                continue;
            }
            let start = if i == 0 {
                0
            } else {
                self.key_ends[i - 1] as usize
            };
            let key = &self.keys[start..self.key_ends[i] as usize];
            if !visit(key, &self.parts[i])? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `x` rounded down to an `f32` (never above `x`).
fn down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x {
        f.next_down()
    } else {
        f
    }
}

/// `x` rounded up to an `f32` (never below `x`).
fn up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x {
        f.next_up()
    } else {
        f
    }
}

/// A query box as `f32` bounds rounded outward (`min` then `max`): an `f32` overlap test
/// against it passes whenever the exact one does.
pub fn outward(query: &Aabb) -> [f32; 6] {
    [
        down(query.min[0]),
        down(query.min[1]),
        down(query.min[2]),
        up(query.max[0]),
        up(query.max[1]),
        up(query.max[2]),
    ]
}

/// What names one cached bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketKey {
    /// The index content (see `stamp.rs`).
    pub stamp: u128,
    /// The grid level.
    pub level: u8,
    /// Cells per bucket edge, as a power of two (a level's shift may be refitted).
    pub shift: u32,
    /// The bucket's Morton code at that level (0 for the overflow level, one bucket).
    pub bucket: u128,
}

/// What the cache holds for a bucket key.
enum Slot {
    /// The bucket, decoded.
    Bucket(Arc<Bucket>),
    /// Only that a search needed it once (admission: a bucket is decoded on its second use,
    /// so one-off queries over cold regions cost what the guided scan costs).
    Seen,
}

impl Slot {
    fn bytes(&self) -> usize {
        match self {
            Slot::Bucket(b) => b.bytes(),
            Slot::Seen => SEEN_BYTES,
        }
    }
}

/// Bytes charged for remembering that a bucket was needed once (the map slot).
const SEEN_BYTES: usize = 64;

#[derive(Default)]
struct Shard {
    buckets: HashMap<BucketKey, Slot, foldhash::fast::FixedState>,
    bytes: usize,
}

/// The process-wide cache (see the module documentation).
pub struct BucketCache {
    shards: Vec<RwLock<Shard>>,
    levels: RwLock<HashMap<u128, Arc<[LevelLayout]>, foldhash::fast::FixedState>>,
    hasher: foldhash::fast::FixedState,
    bytes: AtomicUsize,
}

/// The cache every spatial index of the process shares.
pub fn global() -> &'static BucketCache {
    static CACHE: OnceLock<BucketCache> = OnceLock::new();
    CACHE.get_or_init(|| BucketCache {
        shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
        levels: RwLock::new(HashMap::default()),
        hasher: foldhash::fast::FixedState::default(),
        bytes: AtomicUsize::new(0),
    })
}

/// Bytes the cache occupies now (decoded buckets, as charged against [`MAX_CACHE_BYTES`]).
pub fn cache_bytes() -> usize {
    global().bytes.load(Ordering::Relaxed)
}

/// Drops every cached bucket and level list, every cached page (`page_cache.rs`) and every
/// resident image with its search counts (`residency.rs`): the next searches load afresh.
/// For benchmarks that time a cold open, and for tests; never needed for correctness.
pub fn clear_cache() {
    crate::index::page_cache::global().clear();
    crate::index::residency::clear();
    let cache = global();
    for shard in &cache.shards {
        let mut shard = shard.write();
        cache.bytes.fetch_sub(shard.bytes, Ordering::Relaxed);
        shard.buckets.clear();
        shard.bytes = 0;
    }
    cache.levels.write().clear();
}

impl BucketCache {
    fn shard(&self, key: &BucketKey) -> &RwLock<Shard> {
        let hash = self.hasher.hash_one(key);
        &self.shards[(hash >> 60) as usize % SHARDS]
    }

    /// The cached bucket, if any.
    pub fn get(&self, key: &BucketKey) -> Option<Arc<Bucket>> {
        match self.shard(key).read().buckets.get(key) {
            Some(Slot::Bucket(b)) => Some(b.clone()),
            _ => None,
        }
    }

    /// Whether a search needed this bucket before (decoded or not).
    pub fn was_seen(&self, key: &BucketKey) -> bool {
        self.shard(key).read().buckets.contains_key(key)
    }

    /// Remembers that a search needed this bucket (without decoding it).
    pub fn mark_seen(&self, key: BucketKey) {
        if self.was_seen(&key) {
            return;
        }
        self.put(key, Slot::Seen);
    }

    /// Keeps a bucket, evicting others when its shard is over its share of the budget.
    pub fn insert(&self, key: BucketKey, bucket: Arc<Bucket>) {
        self.put(key, Slot::Bucket(bucket));
    }

    fn put(&self, key: BucketKey, slot: Slot) {
        let size = slot.bytes();
        let budget = MAX_BUCKET_BYTES;
        if size > budget {
            return; // Never cached; the caller still uses it once.
        }
        let mut shard = self.shard(&key).write();
        if shard.bytes + size > budget {
            let before = shard.bytes;
            let mut freed = 0;
            shard.buckets.retain(|k, b| {
                let keep = k.stamp == key.stamp;
                if !keep {
                    freed += b.bytes();
                }
                keep
            });
            if before - freed + size > budget {
                // Still over: drop arbitrary buckets (hash order) down to three quarters.
                let target = budget / 4 * 3;
                let mut left = before - freed;
                shard.buckets.retain(|_, b| {
                    if left + size <= target {
                        return true;
                    }
                    left -= b.bytes();
                    freed += b.bytes();
                    false
                });
            }
            shard.bytes = before - freed;
            self.bytes.fetch_sub(freed, Ordering::Relaxed);
        }
        if let Some(old) = shard.buckets.insert(key, slot) {
            // Another reader loaded the same bucket meanwhile (same content: same stamp).
            shard.bytes -= old.bytes();
            self.bytes.fetch_sub(old.bytes(), Ordering::Relaxed);
        }
        shard.bytes += size;
        self.bytes.fetch_add(size, Ordering::Relaxed);
    }

    /// The non-empty levels of the index content `stamp` and their bucket shifts, if known.
    pub fn levels(&self, stamp: u128) -> Option<Arc<[LevelLayout]>> {
        self.levels.read().get(&stamp).cloned()
    }

    /// Changes the bucket shift of one level of the index content `stamp` (if its levels are
    /// known): later searches cut that level into buckets of the new size.
    pub fn update_shift(&self, stamp: u128, level: u8, shift: u32) {
        let mut map = self.levels.write();
        if let Some(levels) = map.get_mut(&stamp) {
            let mut changed: Vec<LevelLayout> = levels.to_vec();
            for layout in changed.iter_mut().filter(|l| l.level == level) {
                layout.shift = shift;
            }
            *levels = changed.into();
        }
    }

    /// Remembers the non-empty levels of the index content `stamp` and their bucket shifts.
    pub fn insert_levels(&self, stamp: u128, levels: Arc<[LevelLayout]>) {
        let mut map = self.levels.write();
        if map.len() >= MAX_CACHED_STAMPS {
            map.clear();
        }
        map.insert(stamp, levels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outward_rounding_never_moves_inward() {
        for x in [
            0.1,
            -0.1,
            1e-40,
            -1e-40,
            1e39,
            -1e39,
            1e300,
            -1e300,
            3.0,
            16_777_217.0,
        ] {
            assert!(f64::from(down(x)) <= x, "{x}");
            assert!(f64::from(up(x)) >= x, "{x}");
        }
    }

    #[test]
    fn a_bucket_visits_what_overlaps_and_keeps_keys_apart() {
        let mut bucket = Bucket::default();
        bucket.push(b"a", Primitive::Point([0.1, 0.1, 0.1]));
        bucket.push(b"bb", Primitive::Point([5.0, 5.0, 5.0]));
        bucket.push(b"ccc", Primitive::Point([0.3, 0.2, 0.1]));
        let query = outward(&Aabb {
            min: [0.1, 0.1, 0.1],
            max: [1.0, 1.0, 1.0],
        });
        let mut seen = Vec::new();
        let done = bucket
            .for_each_overlapping::<()>(&query, |key, _| {
                seen.push(key.to_vec());
                Ok(true)
            })
            .unwrap();
        assert!(done);
        assert_eq!(seen, vec![b"a".to_vec(), b"ccc".to_vec()]);
    }
}
