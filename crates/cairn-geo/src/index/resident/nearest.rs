//! The nearest-first walk of a resident image: node boxes and measured runs in one queue,
//! documents handed over in order of exact distance.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::hash::BuildHasher;

use super::{farthest, widen, ResidentIndex, BOUND_SLACK, LEAF_ENTRIES};
use crate::error::Result;
use crate::index::limits::MAX_BOUNDED_WANT;
use crate::index::read::SearchStats;
use crate::primitive::{Aabb, Primitive};

/// A step of the nearest-neighbour walk: a node or a measured entry, by a lower bound of
/// its distance from the shape.
struct Pending {
    distance: f64,
    level: usize,
    index: usize,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Reversed: `BinaryHeap` pops the largest, the walk wants the nearest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.distance.total_cmp(&self.distance)
    }
}

/// The level a measured [`Pending`] entry carries: its distance is exact.
const MEASURED: usize = usize::MAX - 1;

impl ResidentIndex {
    /// Hands `visit(doc_key, distance)` every document with a part, nearest first by exact
    /// distance (`distance(part)`, the part's distance to the query shape whose box is
    /// `around`), each once at its smallest distance, until it returns false or the next
    /// would lie beyond `limit`. Equal distances come in no particular order.
    ///
    /// Best-first by box distance: nodes and measured parts share one queue ordered by a
    /// lower bound of what they hold (a node box's distance from `around`; a part's exact
    /// distance). When a measured part leaves the queue nothing still queued can be
    /// nearer, so the first measured part of a document gives its distance.
    ///
    /// With `want` above 0 the walk also bounds what it queues: once `want` documents are
    /// known to have a part within some distance (the farthest point of the part's box),
    /// nothing farther is queued. Every document up to the `want`-th nearest, ties included,
    /// is still handed over; returns whether documents beyond were left out that way (the
    /// caller asks again with a larger `want` if it needs more).
    pub(crate) fn nearest(
        &self,
        around: &Aabb,
        limit: f64,
        want: usize,
        distance: &mut dyn FnMut(&Primitive) -> f64,
        visit: &mut dyn FnMut(&[u8], f64) -> Result<bool>,
        stats: &mut SearchStats,
    ) -> Result<bool> {
        stats.resident += 1;
        let Some(top) = self.nodes.len().checked_sub(1) else {
            return Ok(false);
        };
        // A box's computed distance may round above the exact distance of a part inside it:
        // shaved, so a measured part never leaves the queue ahead of a nearer one.
        let bound = |b: &[f32; 6]| widen(b).distance(around) * (1.0 - BOUND_SLACK);
        let mut queue: BinaryHeap<Pending> = self.nodes[top]
            .iter()
            .enumerate()
            .map(|(index, b)| Pending {
                distance: bound(b),
                level: top,
                index,
            })
            .collect();
        let mut done: HashSet<&[u8], foldhash::fast::FixedState> = HashSet::default();
        let mut within = WithinBound::new(want);
        let mut pruned = false;
        while let Some(next) = queue.pop() {
            if next.distance > limit {
                break;
            }
            if next.distance > within.bound() {
                pruned = true;
                break;
            }
            match next.level {
                MEASURED => {
                    let key = self.key(next.index);
                    if done.insert(key) && !visit(key, next.distance)? {
                        break;
                    }
                }
                0 => {
                    // A leaf's runs are measured at once rather than queued by box first (an
                    // exact distance costs less than a trip through the queue), and only a
                    // run's nearest part is queued: the others cannot come out first.
                    let leaf = self.children(0, next.index);
                    let mut start = leaf.start;
                    while start < leaf.end {
                        let key = self.key(start);
                        let end = self.run_end(start, leaf.end);
                        stats.entries += (end - start) as u64;
                        if !done.contains(key) {
                            let run = RunWalk {
                                around,
                                key,
                                entries: start..end,
                            };
                            pruned |=
                                self.measure_run(&run, &mut within, distance, stats, &mut queue);
                        }
                        start = end;
                    }
                }
                level => {
                    for child in self.children(level, next.index) {
                        let lower = bound(&self.nodes[level - 1][child]);
                        if lower > within.bound() {
                            pruned = true;
                            continue;
                        }
                        queue.push(Pending {
                            distance: lower,
                            level: level - 1,
                            index: child,
                        });
                    }
                }
            }
        }
        Ok(pruned)
    }
}

/// One run of a document's entries measured by [`ResidentIndex::measure_run`].
struct RunWalk<'a> {
    around: &'a Aabb,
    key: &'a [u8],
    entries: std::ops::Range<usize>,
}

impl ResidentIndex {
    /// Measures the entries of `run` that may lie within `within`'s bound and queues the
    /// nearest; returns whether any was left unmeasured for lying beyond the bound.
    fn measure_run(
        &self,
        run: &RunWalk<'_>,
        within: &mut WithinBound,
        distance: &mut dyn FnMut(&Primitive) -> f64,
        stats: &mut SearchStats,
        queue: &mut BinaryHeap<Pending>,
    ) -> bool {
        let mut lower = [0.0; LEAF_ENTRIES];
        let entries = &self.entries[run.entries.clone()];
        // A run lies within one leaf, which holds at most `LEAF_ENTRIES`.
        debug_assert!(entries.len() <= LEAF_ENTRIES);
        let mut closest = 0;
        for (i, e) in entries.iter().enumerate() {
            lower[i] = widen(&e.bbox).distance(run.around) * (1.0 - BOUND_SLACK);
            if lower[i] < lower[closest] {
                closest = i;
            }
        }
        // The document lies within the farthest point of any of its boxes: the box nearest
        // the shape gives a tight enough bound at a fraction of the cost of all of them.
        within.offer(
            run.key,
            farthest(run.around, &widen(&entries[closest].bbox)),
        );
        let mut pruned = false;
        let mut nearest: Option<(f64, usize)> = None;
        for (entry, &lower) in run.entries.clone().zip(&lower) {
            if lower > within.bound() {
                pruned = true;
                continue;
            }
            // No nearer than the run's nearest so far: it cannot lower the minimum.
            if nearest.is_some_and(|(d, _)| lower >= d) {
                continue;
            }
            stats.candidates += 1;
            let exact = distance(&self.entries[entry].part);
            if nearest.is_none_or(|(d, _)| exact < d) {
                nearest = Some((exact, entry));
            }
        }
        if let Some((d, entry)) = nearest {
            within.offer(run.key, d);
            queue.push(Pending {
                distance: d,
                level: MEASURED,
                index: entry,
            });
        }
        pruned
    }
}

/// Up to `want` distinct documents, each with a distance it is known to lie within: when
/// full, every document up to the `want`-th nearest lies within the largest of them.
/// Documents are told apart by a 64-bit hash of their key: two that collide count as one,
/// which only makes the bound looser, never wrong (each slot still stands for at least one
/// document within its distance).
struct WithinBound {
    want: usize,
    docs: Vec<(u64, f64)>,
    largest: f64,
    hasher: foldhash::fast::FixedState,
}

impl WithinBound {
    fn new(want: usize) -> WithinBound {
        let want = if want > MAX_BOUNDED_WANT { 0 } else { want };
        WithinBound {
            want,
            docs: Vec::with_capacity(want),
            largest: f64::INFINITY,
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    /// The bound: infinite until `want` documents are known.
    fn bound(&self) -> f64 {
        self.largest
    }

    /// Learns that the document `key` lies within `d`.
    fn offer(&mut self, key: &[u8], d: f64) {
        // Once full, nothing at or past the bound can lower it (skipping a document's own
        // improvement there only keeps the bound looser).
        if self.want == 0 || (self.docs.len() == self.want && d >= self.largest) {
            return;
        }
        let id = self.hasher.hash_one(key);
        if let Some(doc) = self.docs.iter_mut().find(|doc| doc.0 == id) {
            doc.1 = doc.1.min(d);
        } else if self.docs.len() < self.want {
            self.docs.push((id, d));
        } else if let Some(far) = self.docs.iter_mut().max_by(|a, b| a.1.total_cmp(&b.1)) {
            // Replace the farthest: the others and this one are `want` documents again.
            *far = (id, d);
        }
        if self.docs.len() == self.want {
            self.largest = self.docs.iter().map(|doc| doc.1).fold(0.0, f64::max);
        }
    }
}
