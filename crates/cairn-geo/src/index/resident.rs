//! The resident image of one index content: every entry decoded into flat vectors and packed
//! into an R-tree in memory, so a search descends boxes in memory, reads no page and decodes
//! nothing.
//!
//! The stored index is a loose grid along a Morton curve, which a persistent store walks well
//! (one key order, seeks to where the curve re-enters a box). In memory that walk is the wrong
//! shape: a small query still routes a few hundred entries of the pages it lands in. An
//! R-tree packed bottom-up over the entries, sorted along a Morton curve of their centres,
//! visits only leaves whose boxes meet the query, and orders a nearest-neighbour search by
//! box distance. It is built whole from one snapshot (`residency.rs` decides when) and never
//! changed: an image answers for exactly the content its stamp names.
//!
//! Layout: the entries in packing order (`f32` boxes rounded outward, the parts, the document
//! keys back to back), then the node boxes level by level, implicit: leaf `i` holds entries
//! `i·LEAF_ENTRIES ..`, and node `j` of a level holds boxes `j·NODE_CHILDREN ..` of the level
//! below. No pointers, so the image is a few flat allocations.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::hash::BuildHasher;

use crate::error::Result;
use crate::index::cache::outward;
use crate::index::grid::morton;
use crate::index::read::{Search, SearchStats};
use crate::primitive::{Aabb, Primitive};

/// Entries per leaf: a leaf is tested entry by entry, so it should be about what a small
/// query's box holds; the 16 of `cache.rs`'s buckets measured best there too.
pub const LEAF_ENTRIES: usize = 16;

/// Boxes per inner node: sixteen `f32` boxes are 384 bytes, six cache lines tested in a row.
pub const NODE_CHILDREN: usize = 16;

/// Bits per axis of the packing order (a Morton code of the quantised centre).
const ORDER_BITS: u32 = 21;

/// Bytes per entry besides its document key: box, part, key end.
const ENTRY_BYTES: usize =
    std::mem::size_of::<[f32; 6]>() + std::mem::size_of::<Primitive>() + std::mem::size_of::<u32>();

/// Entries collected for an image, in any order, within a byte budget.
#[derive(Debug, Default)]
pub struct ResidentBuilder {
    boxes: Vec<[f32; 6]>,
    parts: Vec<Primitive>,
    key_ends: Vec<u32>,
    keys: Vec<u8>,
    max_bytes: usize,
}

impl ResidentBuilder {
    /// A builder that refuses to grow past `max_bytes` (see [`ResidentBuilder::push`]).
    pub fn new(max_bytes: usize) -> ResidentBuilder {
        ResidentBuilder {
            max_bytes,
            ..ResidentBuilder::default()
        }
    }

    /// Adds an entry; false (and nothing added) when the image would pass its byte budget.
    pub fn push(&mut self, doc_key: &[u8], part: Primitive) -> bool {
        let after = self.bytes() + ENTRY_BYTES + doc_key.len();
        let Ok(end) = u32::try_from(self.keys.len() + doc_key.len()) else {
            return false;
        };
        if after > self.max_bytes {
            return false;
        }
        self.boxes.push(outward(&part.bbox()));
        self.parts.push(part);
        self.keys.extend_from_slice(doc_key);
        self.key_ends.push(end);
        true
    }

    /// Bytes the entries take so far (the image adds its node boxes, about a fifteenth more).
    pub fn bytes(&self) -> usize {
        self.parts.len() * ENTRY_BYTES + self.keys.len()
    }

    /// Sorts the entries along the packing curve and builds the tree.
    pub fn finish(self) -> ResidentIndex {
        let order = packing_order(&self.boxes);
        let n = order.len();
        let mut boxes = Vec::with_capacity(n);
        let mut parts = Vec::with_capacity(n);
        let mut key_ends = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(self.keys.len());
        for &i in &order {
            let i = i as usize;
            boxes.push(self.boxes[i]);
            parts.push(self.parts[i]);
            let start = if i == 0 {
                0
            } else {
                self.key_ends[i - 1] as usize
            };
            keys.extend_from_slice(&self.keys[start..self.key_ends[i] as usize]);
            // Same total length as the builder's buffer, which `push` kept within `u32`.
            key_ends.push(keys.len() as u32);
        }
        let mut nodes = vec![union_runs(&boxes, LEAF_ENTRIES)];
        while nodes
            .last()
            .is_some_and(|level| level.len() > NODE_CHILDREN)
        {
            let above = nodes.last().map(|l| union_runs(l, NODE_CHILDREN));
            nodes.extend(above);
        }
        ResidentIndex {
            boxes,
            parts,
            key_ends,
            keys,
            nodes,
        }
    }
}

/// The entries' indexes sorted by the Morton code of their box centres, quantised to
/// [`ORDER_BITS`] per axis over the centres' bounding box.
fn packing_order(boxes: &[[f32; 6]]) -> Vec<u32> {
    let centre = |b: &[f32; 6], a: usize| (f64::from(b[a]) + f64::from(b[a + 3])) / 2.0;
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for b in boxes {
        for a in 0..3 {
            lo[a] = lo[a].min(centre(b, a));
            hi[a] = hi[a].max(centre(b, a));
        }
    }
    let cells = f64::from((1u32 << ORDER_BITS) - 1);
    let quantise = |b: &[f32; 6], a: usize| {
        let span = hi[a] - lo[a];
        if span > 0.0 && span.is_finite() {
            ((centre(b, a) - lo[a]) / span * cells) as u64
        } else {
            0
        }
    };
    let mut keyed: Vec<(u128, u32)> = boxes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let code = morton(quantise(b, 0), quantise(b, 1), quantise(b, 2));
            // Entry counts fit `u32`: the builder's key offsets do.
            (code, i as u32)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// The union box of each run of `run` consecutive boxes.
fn union_runs(boxes: &[[f32; 6]], run: usize) -> Vec<[f32; 6]> {
    boxes
        .chunks(run)
        .map(|chunk| {
            chunk.iter().fold(
                [
                    f32::INFINITY,
                    f32::INFINITY,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::NEG_INFINITY,
                    f32::NEG_INFINITY,
                ],
                |mut u, b| {
                    for a in 0..3 {
                        u[a] = u[a].min(b[a]);
                        u[a + 3] = u[a + 3].max(b[a + 3]);
                    }
                    u
                },
            )
        })
        .collect()
}

/// Whether two `f32` boxes (`min` then `max`) overlap.
fn overlaps(b: &[f32; 6], q: &[f32; 6]) -> bool {
    b[0] <= q[3] && q[0] <= b[3] && b[1] <= q[4] && q[1] <= b[4] && b[2] <= q[5] && q[2] <= b[5]
}

/// An `f32` box as an exact `f64` box.
fn widen(b: &[f32; 6]) -> Aabb {
    Aabb {
        min: [f64::from(b[0]), f64::from(b[1]), f64::from(b[2])],
        max: [f64::from(b[3]), f64::from(b[4]), f64::from(b[5])],
    }
}

/// The decoded, packed image of one index content.
#[derive(Debug)]
pub struct ResidentIndex {
    boxes: Vec<[f32; 6]>,
    parts: Vec<Primitive>,
    key_ends: Vec<u32>,
    keys: Vec<u8>,
    /// `nodes[0]`: one box per leaf; `nodes[i + 1]`: one box per run of [`NODE_CHILDREN`]
    /// boxes of `nodes[i]`. The last level has at most `NODE_CHILDREN` boxes.
    nodes: Vec<Vec<[f32; 6]>>,
}

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

/// Relative amount box distances are shaved by in [`ResidentIndex::nearest`], far above
/// the rounding of a distance computation (a few units in the last place).
const BOUND_SLACK: f64 = 1e-9;

impl ResidentIndex {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether the image holds no entry.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Bytes the image occupies.
    pub fn bytes(&self) -> usize {
        let boxes: usize = self.nodes.iter().map(Vec::len).sum::<usize>() + self.boxes.len();
        boxes * std::mem::size_of::<[f32; 6]>()
            + self.parts.len() * std::mem::size_of::<Primitive>()
            + self.key_ends.len() * std::mem::size_of::<u32>()
            + self.keys.len()
    }

    fn key(&self, entry: usize) -> &[u8] {
        let start = if entry == 0 {
            0
        } else {
            self.key_ends[entry - 1] as usize
        };
        &self.keys[start..self.key_ends[entry] as usize]
    }

    /// The children of node `index` at `level` (entries for a leaf).
    fn children(&self, level: usize, index: usize) -> std::ops::Range<usize> {
        let (run, below) = match level {
            0 => (LEAF_ENTRIES, self.boxes.len()),
            _ => (NODE_CHILDREN, self.nodes[level - 1].len()),
        };
        index * run..((index + 1) * run).min(below)
    }

    /// Whether a search may find something in an `f32` box: it overlaps the query box and,
    /// for a distance search, lies within the distance. The box holds every exact box below
    /// it, so this never drops what [`Search::offer`] would keep.
    fn may_hold(search: &Search<'_>, query: &[f32; 6], b: &[f32; 6]) -> bool {
        overlaps(b, query) && (search.ball.is_none() || search.within_ball(&widen(b)))
    }

    /// Offers `search` every part whose box may meet its query, until it stops.
    pub(crate) fn search(&self, search: &mut Search<'_>) -> Result<()> {
        search.stats.resident += 1;
        let Some(top) = self.nodes.len().checked_sub(1) else {
            return Ok(());
        };
        let query = outward(search.query);
        let mut stack: Vec<(usize, usize)> = Vec::with_capacity(NODE_CHILDREN * self.nodes.len());
        stack.extend((0..self.nodes[top].len()).rev().map(|i| (top, i)));
        while let Some((level, index)) = stack.pop() {
            if !Self::may_hold(search, &query, &self.nodes[level][index]) {
                continue;
            }
            if level > 0 {
                stack.extend(self.children(level, index).rev().map(|i| (level - 1, i)));
                continue;
            }
            for entry in self.children(0, index) {
                search.stats.entries += 1;
                if Self::may_hold(search, &query, &self.boxes[entry])
                    && !search.offer(self.key(entry), &self.parts[entry])?
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

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
                    // A leaf's entries are measured at once rather than queued by box first:
                    // an exact distance costs less than a trip through the queue.
                    for entry in self.children(0, next.index) {
                        stats.entries += 1;
                        let key = self.key(entry);
                        if done.contains(key) {
                            continue;
                        }
                        let b = widen(&self.boxes[entry]);
                        within.offer(key, farthest(around, &b));
                        if b.distance(around) * (1.0 - BOUND_SLACK) > within.bound() {
                            pruned = true;
                            continue;
                        }
                        stats.candidates += 1;
                        let exact = distance(&self.parts[entry]);
                        within.offer(key, exact);
                        queue.push(Pending {
                            distance: exact,
                            level: MEASURED,
                            index: entry,
                        });
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

/// The largest distance between a point of `a` and a point of `b`, grown by a hair against
/// rounding: an upper bound of the distance between anything inside them.
fn farthest(a: &Aabb, b: &Aabb) -> f64 {
    let squared: f64 = (0..3)
        .map(|i| {
            let d = (a.max[i] - b.min[i]).abs().max((b.max[i] - a.min[i]).abs());
            d * d
        })
        .sum();
    squared.sqrt() * (1.0 + BOUND_SLACK)
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

/// Largest `want` [`WithinBound`] tracks (its updates scan its documents); a larger one
/// walks unbounded.
const MAX_BOUNDED_WANT: usize = 256;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::distance::primitive_distance;
    use proptest::prelude::*;

    /// Parts of a few documents: points and triangles in a small cube, some far out.
    fn parts() -> impl Strategy<Value = Vec<(u8, Primitive)>> {
        let coord = prop_oneof![-20.0f64..20.0, -1e6f64..1e6];
        let point = [coord.clone(), coord.clone(), coord];
        let part = prop_oneof![
            point.clone().prop_map(Primitive::Point),
            (
                point.clone(),
                [-3.0f64..3.0, -3.0f64..3.0, -3.0f64..3.0],
                [-3.0f64..3.0, -3.0f64..3.0, -3.0f64..3.0]
            )
                .prop_map(|(a, d, e)| Primitive::Triangle([
                    a,
                    [a[0] + d[0], a[1] + d[1], a[2] + d[2]],
                    [a[0] + e[0], a[1] + e[1], a[2] + e[2]],
                ])),
        ];
        proptest::collection::vec((0u8..40, part), 0..300)
    }

    fn image(parts: &[(u8, Primitive)]) -> ResidentIndex {
        let mut builder = ResidentBuilder::new(usize::MAX);
        for (doc, part) in parts {
            assert!(builder.push(&[*doc], *part));
        }
        builder.finish()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// A box search offers exactly the parts whose exact box meets the query box (and,
        /// with a ball, lies within its distance): each once.
        #[test]
        fn a_search_offers_what_a_full_scan_finds(
            parts in parts(),
            lo in [-25.0f64..25.0, -25.0f64..25.0, -25.0f64..25.0],
            size in 0.0f64..30.0,
            radius in proptest::option::of(0.0f64..15.0),
        ) {
            let query = Aabb { min: lo, max: lo.map(|c| c + size) };
            let around = Aabb { min: lo, max: lo };
            let searched = match radius {
                Some(r) => around.expanded(r),
                None => query,
            };
            let ball = radius.map(|r| (&around, r));
            let mut got = Vec::new();
            let mut visit = |key: &[u8], part: &Primitive| {
                got.push((key[0], format!("{part:?}")));
                Ok(true)
            };
            let mut search = Search::new(&searched, ball, &mut visit);
            image(&parts).search(&mut search).expect("search");
            let mut expected: Vec<(u8, String)> = parts
                .iter()
                .filter(|(_, p)| p.bbox().overlaps(&searched) && search_keeps(&p.bbox(), ball))
                .map(|(d, p)| (*d, format!("{p:?}")))
                .collect();
            got.sort();
            expected.sort();
            prop_assert_eq!(got, expected);
        }

        /// The nearest-first walk hands every document once, at its exact smallest distance,
        /// in nondecreasing order, and stops at the limit.
        #[test]
        fn nearest_hands_documents_in_exact_distance_order(
            parts in parts(),
            at in [-25.0f64..25.0, -25.0f64..25.0, -25.0f64..25.0],
            limit in proptest::option::of(0.0f64..40.0),
        ) {
            let target = Primitive::Point(at);
            let around = target.bbox();
            let limit = limit.unwrap_or(f64::INFINITY);
            let mut got: Vec<(u8, f64)> = Vec::new();
            let mut stats = SearchStats::default();
            image(&parts)
                .nearest(
                    &around,
                    limit,
                    0,
                    &mut |p| primitive_distance(p, &target),
                    &mut |key, d| {
                        got.push((key[0], d));
                        Ok(true)
                    },
                    &mut stats,
                )
                .expect("nearest");
            prop_assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "out of order: {:?}", got);
            let best = nearest_by_doc(&parts, &target);
            let mut expected: Vec<(u8, f64)> = best.into_iter().filter(|(_, d)| *d <= limit).collect();
            got.sort_by_key(|a| a.0);
            expected.sort_by_key(|a| a.0);
            prop_assert_eq!(got, expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Bounded by `want`, the walk still hands over every document up to the `want`-th
        /// nearest (ties included) at its exact distance, in order; whatever else it hands is
        /// also right, and it says so whenever it left documents out.
        #[test]
        fn a_bounded_walk_keeps_the_nearest_documents(
            parts in parts(),
            at in [-25.0f64..25.0, -25.0f64..25.0, -25.0f64..25.0],
            want in 1usize..12,
        ) {
            let target = Primitive::Point(at);
            let mut got: Vec<(u8, f64)> = Vec::new();
            let pruned = image(&parts)
                .nearest(
                    &target.bbox(),
                    f64::INFINITY,
                    want,
                    &mut |p| primitive_distance(p, &target),
                    &mut |key, d| {
                        got.push((key[0], d));
                        Ok(true)
                    },
                    &mut SearchStats::default(),
                )
                .expect("nearest");
            prop_assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "out of order: {:?}", got);
            let best = nearest_by_doc(&parts, &target);
            for (doc, d) in &got {
                prop_assert_eq!(best.get(doc), Some(d));
            }
            let mut all: Vec<f64> = best.values().copied().collect();
            all.sort_by(f64::total_cmp);
            if let Some(&cut) = all.get(want - 1) {
                let kept = all.iter().filter(|d| **d <= cut).count();
                prop_assert!(got.len() >= kept, "{} documents handed, {} within the {}-th", got.len(), kept, want);
            }
            // (A part pruned may belong to a document already handed over, so the flag may
            // also be set when nothing was left out.)
            if !pruned {
                prop_assert_eq!(got.len(), best.len(), "documents left out, flag not set");
            }
        }
    }

    /// Each document's exact distance to `target`: the smallest over its parts.
    fn nearest_by_doc(parts: &[(u8, Primitive)], target: &Primitive) -> BTreeMap<u8, f64> {
        let mut best = BTreeMap::new();
        for (doc, part) in parts {
            let d = primitive_distance(part, target);
            let e = best.entry(*doc).or_insert(d);
            *e = e.min(d);
        }
        best
    }

    /// What `Search::within_ball` decides, for the reference.
    fn search_keeps(b: &Aabb, ball: Option<(&Aabb, f64)>) -> bool {
        ball.is_none_or(|(around, r)| b.distance_squared(around) * (1.0 - 2e-9) <= r * r)
    }

    #[test]
    fn an_empty_image_finds_nothing() {
        let image = ResidentBuilder::new(1 << 20).finish();
        assert!(image.is_empty());
        let q = Aabb {
            min: [0.0; 3],
            max: [1.0; 3],
        };
        let mut visit = |_: &[u8], _: &Primitive| -> Result<bool> { panic!("nothing to visit") };
        let mut search = Search::new(&q, None, &mut visit);
        image.search(&mut search).expect("search");
    }

    #[test]
    fn a_builder_refuses_entries_past_its_budget() {
        let mut builder = ResidentBuilder::new(3 * ENTRY_BYTES);
        let part = Primitive::Point([0.0; 3]);
        assert!(builder.push(b"a", part));
        assert!(builder.push(b"b", part));
        assert!(
            !builder.push(b"c", part),
            "a third entry with its key passes the budget"
        );
        assert_eq!(builder.finish().len(), 2);
    }
}
