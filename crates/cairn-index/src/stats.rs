//! Index statistics for the planner: entry count, distinct keys per key prefix, and an
//! equi-depth histogram of key boundaries.
//!
//! Statistics live in memory, in the index's extension instance, and are recomputed by one
//! scan of the index when missing (first use after opening) or stale (more than
//! [`STATS_STALE_FRACTION`] of the entries written since). They guide plan choice only; a
//! wrong estimate costs speed, never correctness.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_engine::Transaction;
use parking_lot::Mutex;

use crate::entries::split;
use crate::error::Result;
use crate::keys;
use crate::limits::{HISTOGRAM_BUCKETS, STATS_STALE_FRACTION};
use crate::maintain::ENTRIES_TABLE;
use crate::read::visit_entries;
use crate::spec::{IndexKind, IndexSpec};

/// Statistics of one index.
#[derive(Debug, Clone, Default)]
pub struct IndexStats {
    /// Entries when computed.
    pub entries: u64,
    /// `distinct[k]`: distinct values of the first `k + 1` fields.
    pub distinct: Vec<u64>,
    /// Tuples at equal distances through the index (first and last included); empty for hash
    /// indexes, whose key order means nothing.
    pub bounds: Vec<Vec<u8>>,
}

impl IndexStats {
    /// Estimated entries whose tuple lies in `(lower, upper)`.
    pub fn estimate_range(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> f64 {
        if self.entries == 0 {
            return 0.0;
        }
        if self.bounds.len() < 2 {
            return self.entries as f64;
        }
        let inside = self
            .bounds
            .iter()
            .filter(|b| above(b, lower) && below(b, upper))
            .count();
        let bucket = self.entries as f64 / (self.bounds.len() - 1) as f64;
        // A range between two boundaries still holds something; half a bucket is the
        // expected share of a range that falls inside one bucket.
        (inside as f64 * bucket).max(bucket / 2.0)
    }

    /// Estimated entries equal on the first `fields` fields (average group size).
    pub fn estimate_equal(&self, fields: usize) -> f64 {
        let distinct = fields
            .checked_sub(1)
            .and_then(|k| self.distinct.get(k))
            .copied()
            .unwrap_or(1)
            .max(1);
        self.entries as f64 / distinct as f64
    }
}

fn above(key: &[u8], lower: Bound<&[u8]>) -> bool {
    match lower {
        Bound::Included(l) => key >= l,
        Bound::Excluded(l) => key > l,
        Bound::Unbounded => true,
    }
}

fn below(key: &[u8], upper: Bound<&[u8]>) -> bool {
    match upper {
        Bound::Included(u) => key <= u,
        Bound::Excluded(u) => key < u,
        Bound::Unbounded => true,
    }
}

/// The statistics slot of a live index, with a count of writes since they were computed.
#[derive(Debug, Default)]
pub struct StatsCell {
    stats: Mutex<Option<Arc<IndexStats>>>,
    writes_since: AtomicU64,
}

impl StatsCell {
    /// Counts writes to the index (called from the write hook; never blocks).
    pub fn note_writes(&self, n: u64) {
        self.writes_since.fetch_add(n, Ordering::Relaxed);
    }

    /// Current statistics, recomputed first when missing or stale.
    pub fn get_or_compute(
        &self,
        txn: &mut Transaction,
        collection: &str,
        spec: &IndexSpec,
    ) -> Result<Arc<IndexStats>> {
        let current = self.stats.lock().clone();
        if let Some(stats) = current {
            let stale_after = (stats.entries as f64 * STATS_STALE_FRACTION).max(100.0);
            if (self.writes_since.load(Ordering::Relaxed) as f64) < stale_after {
                return Ok(stats);
            }
        }
        self.writes_since.store(0, Ordering::Relaxed);
        let fresh = Arc::new(compute(txn, collection, spec)?);
        *self.stats.lock() = Some(fresh.clone());
        Ok(fresh)
    }
}

/// Scans an index once and computes its statistics.
pub fn compute(txn: &mut Transaction, collection: &str, spec: &IndexSpec) -> Result<IndexStats> {
    let total = txn
        .extension_table_stats(collection, &spec.name, ENTRIES_TABLE)?
        .entries;
    let step = (total / HISTOGRAM_BUCKETS as u64).max(1);
    let fields = spec.fields.len();
    let mut stats = IndexStats {
        entries: 0,
        distinct: vec![0; fields],
        bounds: Vec::new(),
    };
    let mut previous: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(fields);
    let mut prev_ends: Vec<usize> = vec![0; fields];
    visit_entries(
        txn,
        collection,
        &spec.name,
        (Bound::Unbounded, Bound::Unbounded),
        |key, value| {
            let (tuple, _) = split(spec, key, value)?;
            if spec.kind == IndexKind::Hash {
                // Hash order is random: count distinct full tuples only approximately, by
                // hash changes (equal tuples are adjacent, as they share a hash).
                if key.get(..8) != previous.get(..8) {
                    stats.distinct[fields - 1] += 1;
                }
                previous.clear();
                previous.extend_from_slice(key);
            } else {
                ends.clear();
                let mut at = 0;
                for _ in 0..fields {
                    at += keys::skip(&tuple[at..]).unwrap_or(tuple.len() - at);
                    ends.push(at);
                }
                let first_difference = (0..fields).find(|&k| {
                    stats.entries == 0 || previous.get(..prev_ends[k]) != tuple.get(..ends[k])
                });
                if let Some(k) = first_difference {
                    for d in &mut stats.distinct[k..] {
                        *d += 1;
                    }
                }
                std::mem::swap(&mut ends, &mut prev_ends);
                previous.clear();
                previous.extend_from_slice(tuple);
                if stats.entries.is_multiple_of(step) {
                    stats.bounds.push(tuple.to_vec());
                }
            }
            stats.entries += 1;
            Ok(true)
        },
    )?;
    // For B-trees `previous` now holds the last tuple: it closes the histogram.
    if spec.kind == IndexKind::BTree && stats.entries > 0 && stats.bounds.last() != Some(&previous)
    {
        stats.bounds.push(previous);
    }
    Ok(stats)
}
