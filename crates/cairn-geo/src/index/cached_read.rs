//! Searching through the bucket cache (`cache.rs`): for read-only snapshots of an index
//! with a stamp.
//!
//! Per non-empty level (the list is cached per stamp; found by seeking level by level, one
//! B-tree descent each, never by scanning entries), the query's [`CellBox`] is covered by
//! buckets; a distance search skips buckets wholly beyond its distance without loading them.
//! Each bucket comes from the cache or is loaded with one bounded range read of the snapshot
//! and decoded once. A level whose box spans more than [`MAX_BUCKETS_PER_LEVEL`] buckets is
//! read with the guided scan instead (a huge query on fine parts would otherwise decode much
//! of the index). The overflow level is one bucket.

use std::ops::Bound;
use std::sync::Arc;

use cairn_engine::Transaction;

use crate::error::Result;
use crate::index::bucket::{bucket_code, code_range, BucketBox, BUCKET_SHIFT};
use crate::index::cache::{self, Bucket, BucketKey, MAX_BUCKET_BYTES};
use crate::index::entries::{decode_primitive, doc_key_of};
use crate::index::grid::{block_region, CellBox, OVERFLOW_LEVEL};
use crate::index::maintain::ENTRIES_TABLE;
use crate::index::read::{level_key, Search, SpatialHandle};
use crate::primitive::Primitive;

/// Most buckets one query reads from the cache at one level; past it that level is read with
/// the guided scan. 512 buckets of the benchmark's density are about 15,000 entries, already
/// more than the guided scan reads for such a box.
pub const MAX_BUCKETS_PER_LEVEL: u128 = 512;

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
    let cache = cache::global();
    let levels = match cache.levels(stamp) {
        Some(levels) => levels,
        None => {
            let levels: Arc<[u8]> = non_empty_levels(txn, collection, index)?.into();
            cache.insert_levels(stamp, levels.clone());
            levels
        }
    };
    let query32 = cache::outward(search.query);
    for &level in levels.iter() {
        if level == OVERFLOW_LEVEL {
            let key = BucketKey {
                stamp,
                level,
                bucket: 0,
            };
            if !visit_bucket(txn, collection, index, key, &query32, search)? {
                return Ok(());
            }
            continue;
        }
        let buckets = BucketBox::of_cells(&CellBox::of_query(level, search.query), BUCKET_SHIFT);
        if buckets.count() > MAX_BUCKETS_PER_LEVEL {
            handle.guided_scan(txn, collection, Some(level), search)?;
            if search.stopped {
                return Ok(());
            }
            continue;
        }
        for block in buckets.iter() {
            if let Some((around, r)) = search.ball {
                let region = block_region(level, BUCKET_SHIFT, block);
                // Errs towards reading (see `distance_squared`).
                if region.distance_squared(around) * (1.0 - 2e-9) > r * r {
                    continue;
                }
            }
            let key = BucketKey {
                stamp,
                level,
                bucket: bucket_code(block),
            };
            if !visit_bucket(txn, collection, index, key, &query32, search)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Offers the entries of one bucket whose `f32` box overlaps the query, from the cache or
/// loaded into it; false once the visitor stopped. A bucket too large to cache is read
/// straight from the snapshot instead.
fn visit_bucket(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    key: BucketKey,
    query32: &[f32; 6],
    search: &mut Search<'_>,
) -> Result<bool> {
    let cache = cache::global();
    let bucket = match cache.get(&key) {
        Some(found) => {
            search.stats.bucket_hits += 1;
            found
        }
        None => {
            search.stats.bucket_loads += 1;
            search.stats.seeks += 1;
            let mut bucket = Bucket::default();
            let mut fits = true;
            read_range(txn, collection, index, &key, &mut |doc, part| {
                bucket.push(doc, part);
                fits = bucket.bytes() <= MAX_BUCKET_BYTES;
                Ok(fits)
            })?;
            if !fits {
                return stream(txn, collection, index, &key, search);
            }
            bucket.shrink();
            let bucket = Arc::new(bucket);
            cache.insert(key, bucket.clone());
            bucket
        }
    };
    search.stats.entries += bucket.len() as u64;
    bucket.for_each_overlapping(query32, |key, part| search.offer(key, part))
}

/// Offers every entry of one bucket read straight from the snapshot (not cached).
fn stream(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    key: &BucketKey,
    search: &mut Search<'_>,
) -> Result<bool> {
    read_range(txn, collection, index, key, &mut |doc, part| {
        search.stats.entries += 1;
        search.offer(doc, &part)
    })?;
    Ok(!search.stopped)
}

/// Reads one bucket's key range from the snapshot, decoding each entry for `visit` until it
/// returns false.
fn read_range(
    txn: &mut Transaction,
    collection: &str,
    index: &str,
    key: &BucketKey,
    visit: &mut dyn FnMut(&[u8], Primitive) -> Result<bool>,
) -> Result<()> {
    let (start, end) = if key.level == OVERFLOW_LEVEL {
        (vec![OVERFLOW_LEVEL], None)
    } else {
        let (first, past) = code_range(key.bucket, BUCKET_SHIFT);
        (
            level_key(key.level, first),
            Some(level_key(key.level, past)),
        )
    };
    let end = match &end {
        Some(end) => Bound::Excluded(end.as_slice()),
        None => Bound::Unbounded,
    };
    let mut failure = None;
    txn.extension_range(
        collection,
        index,
        ENTRIES_TABLE,
        Bound::Included(start.as_slice()),
        end,
        |k, v| {
            let step = doc_key_of(k).and_then(|doc| visit(doc, decode_primitive(v)?));
            step.or_else(|err| {
                failure = Some(err);
                Ok(false)
            })
        },
    )?;
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The levels that hold entries, in order: one seek per level found (the first key at or
/// after the level's first possible key), plus one that finds nothing.
fn non_empty_levels(txn: &mut Transaction, collection: &str, index: &str) -> Result<Vec<u8>> {
    let mut levels = Vec::new();
    let mut from = Some(0u8);
    while let Some(level) = from {
        let mut found = None;
        txn.extension_range(
            collection,
            index,
            ENTRIES_TABLE,
            Bound::Included(&[level][..]),
            Bound::Unbounded,
            |k, _| {
                found = k.first().copied();
                Ok(false)
            },
        )?;
        match found {
            Some(l) => {
                levels.push(l);
                from = l.checked_add(1);
            }
            None => from = None,
        }
    }
    Ok(levels)
}
