//! Searching through the bucket cache (`cache.rs`): for read-only snapshots of an index
//! with a stamp.
//!
//! Per non-empty level (the list, with each level's bucket size, is cached per stamp; found
//! by one bounded read per level, never by scanning entries), the query's [`CellBox`] is
//! covered by buckets; a distance search skips buckets wholly beyond its distance without
//! loading them. Each bucket comes from the cache; the missing ones of a level are loaded
//! together with one guided scan of the snapshot (neighbouring buckets share a descent) and
//! decoded once. A level whose box spans more than [`MAX_BUCKETS_PER_LEVEL`] buckets is read
//! with the guided scan instead (a huge query on fine parts would otherwise decode much of
//! the index). The overflow level is one bucket.
//!
//! Cost model (callgrind, `cairn bench geo --scale 0.2`, instructions per query averaged over
//! the four rows): the guided scan ~1.16 M; through the cache ~0.77 M while it fills and
//! ~0.28 M once it holds what the queries touch.

use std::ops::Bound;
use std::sync::Arc;

use cairn_engine::{ScanStep, Transaction};

use crate::error::Result;
use crate::index::bucket::{
    bucket_code, code_range, shift_for, BucketBox, LevelLayout, MAX_BUCKET_SHIFT, MIN_BUCKET_SHIFT,
    SHIFT_SAMPLE_ENTRIES, TARGET_BUCKET_ENTRIES,
};
use crate::index::cache::{self, Bucket, BucketKey, MAX_BUCKET_BYTES};
use crate::index::entries::{decode_primitive, doc_key_of};
use crate::index::entries_table;
use crate::index::grid::{block_region, cell_edge, unmorton, CellBox, CELL_BITS, OVERFLOW_LEVEL};
use crate::index::limits::MAX_BUCKETS_PER_LEVEL;
use crate::index::read::{
    cell_of_key, level_key, Search, SearchStats, SpatialHandle, STEPS_BEFORE_SEEK,
};
use crate::primitive::Aabb;

/// A loaded bucket with more entries than this makes its level's buckets finer (see
/// [`refit_shift`]): eight times the target.
pub const REFIT_ABOVE: f64 = 8.0 * TARGET_BUCKET_ENTRIES;
/// Loaded buckets averaging fewer entries than this make their level's buckets coarser...
pub const REFIT_BELOW: f64 = TARGET_BUCKET_ENTRIES / 16.0;
/// ...when at least this many were loaded at once (few buckets say little).
pub const REFIT_EMPTY_BUCKETS: usize = 27;

/// Most buckets [`density`] consults (27 per level, so the 9 finest non-empty levels).
pub const DENSITY_PROBES: usize = 9 * 27;

/// Bytes a loaded bucket reserves per document key before it knows the keys: an integer or
/// short string id's encoding (longer keys only make the buffer grow).
const BUCKET_KEY_BYTES_GUESS: usize = 10;

/// Runs `search` over the index content `stamp` as `txn` (a transaction that records no
/// reads) sees it.
pub(crate) fn search(
    handle: &SpatialHandle,
    txn: &mut Transaction,
    collection: &str,
    stamp: u128,
    search: &mut Search<'_>,
) -> Result<()> {
    debug_assert!(!txn.records_reads());
    let index = handle.spec.name.as_str();
    let levels = levels(txn, collection, index, stamp)?;
    let query32 = cache::outward(search.query);
    for &LevelLayout { level, shift, .. } in levels.iter() {
        let codes = if level == OVERFLOW_LEVEL {
            vec![0]
        } else {
            let cells = CellBox::of_query(level, search.query);
            let buckets = BucketBox::of_cells(&cells, shift);
            if buckets.count() > MAX_BUCKETS_PER_LEVEL {
                handle.guided_scan(txn, collection, Some(stamp), Some(level), search)?;
                if search.stopped {
                    return Ok(());
                }
                continue;
            }
            let mut codes: Vec<u128> = buckets
                .iter()
                .filter(|&block| match search.ball {
                    // Errs towards reading (see `distance_squared`).
                    Some((around, r)) => {
                        let region = block_region(level, shift, block);
                        region.distance_squared(around) * (1.0 - 2e-9) <= r * r
                    }
                    None => true,
                })
                .map(bucket_code)
                .collect();
            codes.sort_unstable();
            codes
        };
        let at = Level {
            collection,
            index,
            stamp,
            level,
            shift,
        };
        let Some(found) = fetch(txn, &at, &codes, false, &mut search.stats)? else {
            // Part of this level is cold: read it the uncached way this time.
            handle.guided_scan(txn, collection, Some(stamp), Some(level), search)?;
            if search.stopped {
                return Ok(());
            }
            continue;
        };
        for (&code, bucket) in codes.iter().zip(found) {
            let go_on = match bucket {
                Some(bucket) => {
                    search.stats.entries += bucket.len() as u64;
                    bucket.for_each_overlapping(&query32, |key, part| search.offer(key, part))?
                }
                None => stream(txn, &at, code, search)?,
            };
            if !go_on {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// One level of one index content: where buckets are read from and what names them.
struct Level<'a> {
    collection: &'a str,
    index: &'a str,
    stamp: u128,
    level: u8,
    /// Cells per bucket edge, as a power of two (see `bucket::shift_for`).
    shift: u32,
}

impl Level<'_> {
    fn key(&self, bucket: u128) -> BucketKey {
        BucketKey {
            stamp: self.stamp,
            level: self.level,
            shift: self.shift,
            bucket,
        }
    }

    /// The key where bucket `code` begins (the overflow level: where the level begins).
    fn start(&self, code: u128) -> Vec<u8> {
        match self.level {
            OVERFLOW_LEVEL => vec![OVERFLOW_LEVEL],
            level => level_key(level, code_range(code, self.shift).0),
        }
    }

    /// The bucket holding cell `code` (the overflow level is one bucket).
    fn bucket_of(&self, code: u128) -> u128 {
        match self.level {
            OVERFLOW_LEVEL => 0,
            _ => code >> (3 * self.shift),
        }
    }
}

/// The buckets `codes` (sorted, distinct) of one level, aligned with `codes`: from the cache,
/// the missing ones loaded together with one guided scan of the snapshot and cached. `None`
/// for a bucket larger than [`MAX_BUCKET_BYTES`] (never cached; the caller streams it).
///
/// Admission: unless `always`, buckets are decoded only on their second use. When some
/// missing bucket was never needed before, nothing is loaded (all missing ones are marked
/// seen) and the answer is `None`: the caller reads the level with the guided scan, which
/// reads only the cells of its box, where loading would decode every entry of every bucket
/// touched — several times more for a small query, wasted if the region is never queried
/// again.
fn fetch(
    txn: &mut Transaction,
    at: &Level<'_>,
    codes: &[u128],
    always: bool,
    stats: &mut SearchStats,
) -> Result<Option<Vec<Option<Arc<Bucket>>>>> {
    let cache = cache::global();
    let mut out: Vec<Option<Arc<Bucket>>> = Vec::with_capacity(codes.len());
    let mut missing: Vec<usize> = Vec::new();
    for (i, &code) in codes.iter().enumerate() {
        let found = cache.get(&at.key(code));
        match found {
            Some(_) => stats.bucket_hits += 1,
            None => missing.push(i),
        }
        out.push(found);
    }
    if missing.is_empty() {
        return Ok(Some(out));
    }
    if !always && !missing.iter().all(|&i| cache.was_seen(&at.key(codes[i]))) {
        for &i in &missing {
            cache.mark_seen(at.key(codes[i]));
        }
        return Ok(None);
    }
    stats.bucket_loads += missing.len() as u64;
    let wanted: Vec<u128> = missing.iter().map(|&i| codes[i]).collect();
    let loaded = load(txn, at, &wanted, stats)?;
    let sizes: Vec<usize> = loaded.iter().flatten().map(Bucket::len).collect();
    if let Some(shift) = refit_shift(at.shift, &sizes) {
        cache.update_shift(at.stamp, at.level, shift);
    }
    for (&i, bucket) in missing.iter().zip(loaded) {
        if let Some(mut bucket) = bucket {
            bucket.finish();
            let bucket = Arc::new(bucket);
            cache.insert(at.key(codes[i]), bucket.clone());
            out[i] = Some(bucket);
        }
    }
    Ok(Some(out))
}

/// A better bucket shift for a level whose buckets, just loaded at `shift`, hold `sizes`
/// entries; `None` to keep it. The first shift comes from a sample of the level's first
/// entries, which may not be typical (the start of the Morton order is a corner of the
/// data): a bucket over [`REFIT_ABOVE`] entries makes the level finer, many nearly empty
/// buckets ([`REFIT_EMPTY_BUCKETS`] loaded, averaging under [`REFIT_BELOW`]) coarser. Later
/// queries use the new shift (a new cache key: buckets of the old one are simply no longer
/// asked for); answers never depend on it.
fn refit_shift(shift: u32, sizes: &[usize]) -> Option<u32> {
    let largest = sizes.iter().copied().max()? as f64;
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    let steps = if largest > REFIT_ABOVE {
        -(largest / TARGET_BUCKET_ENTRIES).log2() / 3.0
    } else if sizes.len() >= REFIT_EMPTY_BUCKETS && mean < REFIT_BELOW {
        (TARGET_BUCKET_ENTRIES / mean.max(0.5)).log2() / 3.0
    } else {
        return None;
    };
    let refit = (f64::from(shift) + steps.round())
        .clamp(f64::from(MIN_BUCKET_SHIFT), f64::from(MAX_BUCKET_SHIFT)) as u32;
    (refit != shift).then_some(refit)
}

/// Reads the buckets `wanted` (sorted, distinct) of one level with one guided scan: entries
/// of wanted buckets are decoded; the scan walks short gaps between them and seeks over long
/// ones (as the search's own scan does, [`STEPS_BEFORE_SEEK`]), so neighbouring buckets cost
/// one descent together. A bucket is complete once the scan passed its range; `None` for one
/// that grew past [`MAX_BUCKET_BYTES`].
fn load(
    txn: &mut Transaction,
    at: &Level<'_>,
    wanted: &[u128],
    stats: &mut SearchStats,
) -> Result<Vec<Option<Bucket>>> {
    // Sized for the level's target count (its shift is fitted to it) and short keys.
    let room = (TARGET_BUCKET_ENTRIES * 2.0) as usize;
    let mut buckets: Vec<Option<Bucket>> = wanted
        .iter()
        .map(|_| Some(Bucket::with_capacity(room, BUCKET_KEY_BYTES_GUESS)))
        .collect();
    let mut next = 0;
    let mut outside = 0;
    let start = at.start(wanted[0]);
    stats.seeks += entries_table::guided(
        txn,
        at.collection,
        at.index,
        Some(at.stamp),
        &start,
        |key, value| {
            let (level, code) = cell_of_key(key)?;
            if level != at.level {
                return Ok(ScanStep::Stop);
            }
            let bucket = at.bucket_of(code);
            while next < wanted.len() && wanted[next] < bucket {
                next += 1;
            }
            if next == wanted.len() {
                return Ok(ScanStep::Stop);
            }
            if wanted[next] != bucket {
                outside += 1;
                if outside < STEPS_BEFORE_SEEK {
                    return Ok(ScanStep::Next);
                }
                outside = 0;
                return Ok(ScanStep::SeekTo(at.start(wanted[next])));
            }
            outside = 0;
            if let Some(b) = &mut buckets[next] {
                b.push(doc_key_of(key)?, decode_primitive(value)?);
                if b.bytes() > MAX_BUCKET_BYTES {
                    buckets[next] = None;
                }
            }
            Ok(ScanStep::Next)
        },
    )?;
    Ok(buckets)
}

/// Documents per unit volume around the center of `around`, summed over the non-empty
/// regular levels (a document with parts at two levels counts twice: the estimate errs
/// high, which makes a first radius err small). At a level whose 3×3×3 buckets around the
/// center are all decoded in the cache, their distinct documents over their volume; at any
/// other, the level's sampled density ([`LevelLayout::sample_docs_per_volume`]) — decoding
/// 27 buckets per level to size one query's first radius cost about half of a cold
/// nearest-neighbour query, and a query only needs the radius roughly right (the rounds of
/// `$near` correct it). The missing buckets are marked seen, as by a search. At most
/// [`DENSITY_PROBES`] buckets are consulted. `None` when nothing is known.
pub(crate) fn density(
    handle: &SpatialHandle,
    txn: &mut Transaction,
    collection: &str,
    stamp: u128,
    around: &Aabb,
    stats: &mut SearchStats,
) -> Result<Option<f64>> {
    let index = handle.spec.name.as_str();
    let levels = levels(txn, collection, index, stamp)?;
    let center = [0, 1, 2].map(|a| (around.min[a] + around.max[a]) / 2.0);
    let mut probes = 0;
    let mut total = 0.0;
    for layout in levels.iter().filter(|l| l.level != OVERFLOW_LEVEL) {
        let LevelLayout { level, shift, .. } = *layout;
        let top = ((1u64 << CELL_BITS) - 1) >> shift;
        if probes + 27 > DENSITY_PROBES {
            break;
        }
        // The cell holding the center is the high corner of the point's cell box.
        let block = CellBox::of_query(level, &Aabb::of_point(center))
            .hi
            .map(|c| c >> shift);
        let around_block = BucketBox {
            lo: block.map(|c| c.saturating_sub(1)),
            hi: block.map(|c| (c + 1).min(top)),
        };
        let mut codes: Vec<u128> = around_block.iter().map(bucket_code).collect();
        codes.sort_unstable();
        probes += codes.len();
        let at = Level {
            collection,
            index,
            stamp,
            level,
            shift,
        };
        let Some(buckets) = fetch(txn, &at, &codes, false, stats)? else {
            total += layout.sample_docs_per_volume;
            continue;
        };
        let docs: u64 = buckets.iter().flatten().map(|b| u64::from(b.docs())).sum();
        let edge = cell_edge(level) * 2f64.powi(shift as i32);
        let volume = codes.len() as f64 * edge * edge * edge;
        if docs > 0 && volume > 0.0 && volume.is_finite() {
            total += docs as f64 / volume;
        }
    }
    Ok((total > 0.0 && total.is_finite()).then_some(total))
}

/// The non-empty levels of the index content `stamp`, from the cache or found and cached.
fn levels(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    stamp: u128,
) -> Result<Arc<[LevelLayout]>> {
    let cache = cache::global();
    if let Some(levels) = cache.levels(stamp) {
        return Ok(levels);
    }
    let levels: Arc<[LevelLayout]> = non_empty_levels(txn, collection, index)?.into();
    cache.insert_levels(stamp, levels.clone());
    Ok(levels)
}

/// Offers every entry of one bucket read straight from the snapshot (not cached); false once
/// the visitor stopped.
fn stream(
    txn: &mut Transaction,
    at: &Level<'_>,
    code: u128,
    search: &mut Search<'_>,
) -> Result<bool> {
    let start = at.start(code);
    let end = match at.level {
        OVERFLOW_LEVEL => None,
        level => Some(level_key(level, code_range(code, at.shift).1)),
    };
    let end = match &end {
        Some(end) => Bound::Excluded(end.as_slice()),
        None => Bound::Unbounded,
    };
    let bounds = (Bound::Included(start.as_slice()), end);
    entries_table::range(txn, at.collection, at.index, bounds, |k, v| {
        search.stats.entries += 1;
        search.offer(doc_key_of(k)?, &decode_primitive(v)?)
    })?;
    Ok(!search.stopped)
}

/// The levels that hold entries, in order, each with its bucket shift: one bounded read per
/// level found (from the level's first possible key, its first [`SHIFT_SAMPLE_ENTRIES`]
/// entries, whose cells' box gives the density `shift_for` sizes buckets by), plus one read
/// that finds nothing. Never a scan of the entries.
fn non_empty_levels(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
) -> Result<Vec<LevelLayout>> {
    let mut levels = Vec::new();
    let mut from = Some(0u8);
    while let Some(start) = from {
        // The level found, the cell box of its sampled entries, and how many were sampled.
        let mut found: Option<(u8, CellBox, u32)> = None;
        // The sampled entries' distinct document keys (a document's entries are mostly
        // adjacent, so a linear check is enough for a few dozen).
        let mut docs: Vec<Vec<u8>> = Vec::new();
        let bounds = (Bound::Included(&[start][..]), Bound::Unbounded);
        entries_table::range(txn, collection, index, bounds, |k, _| {
            let (level, code) = cell_of_key(k)?;
            let cell = unmorton(code);
            if found.as_ref().is_some_and(|(l, _, _)| *l != level) {
                return Ok(false);
            }
            let doc = doc_key_of(k)?;
            if !docs.iter().any(|d| d.as_slice() == doc) {
                docs.push(doc.to_vec());
            }
            match &mut found {
                None => {
                    found = Some((level, CellBox { lo: cell, hi: cell }, 1));
                    Ok(SHIFT_SAMPLE_ENTRIES > 1)
                }
                Some((_, cells, n)) => {
                    cells.lo = [0, 1, 2].map(|a| cells.lo[a].min(cell[a]));
                    cells.hi = [0, 1, 2].map(|a| cells.hi[a].max(cell[a]));
                    *n += 1;
                    Ok(*n < SHIFT_SAMPLE_ENTRIES)
                }
            }
        })?;
        match found {
            Some((level, cells, n)) => {
                let edge = cell_edge(level);
                let volume: f64 = (0..3)
                    .map(|a| ((cells.hi[a] - cells.lo[a]) as f64 + 1.0) * edge)
                    .product();
                levels.push(LevelLayout {
                    level,
                    shift: shift_for(n, &cells),
                    sample_docs_per_volume: docs.len() as f64 / volume,
                });
                from = level.checked_add(1);
            }
            None => from = None,
        }
    }
    Ok(levels)
}
