//! The resident image of one index content: every entry decoded into flat vectors and packed
//! into an R-tree in memory, so a search descends boxes in memory, reads no page and decodes
//! nothing.
//!
//! The stored index is a loose grid along a Morton curve, which a persistent store walks well
//! (one key order, seeks to where the curve re-enters a box). In memory that walk is the wrong
//! shape: a small query still routes a few hundred entries of the pages it lands in. A packed
//! R-tree visits only leaves whose boxes meet the query, and orders a nearest-neighbour
//! search by box distance. It is built whole from one snapshot (`residency.rs` decides when) and never
//! changed: an image answers for exactly the content its stamp names.
//!
//! Leaves are made of *runs*: up to [`LEAF_ENTRIES`] parts of one document, neighbours along
//! a Morton curve of that document's parts. A small mesh is one or two runs and a point one;
//! a large mesh is many runs, each a patch of it, so a query touching one corner of it tests
//! only that corner. Runs are packed into leaves of at most [`LEAF_ENTRIES`] parts in the
//! Morton order of their boxes' centres, and the leaves ordered top down by sort-tile-recursive
//! tiling (`pack.rs`), so each node is a compact tile of space. A run's parts share a document, which the walks
//! rely on: a nearest-neighbour walk measures a run at once and queues its nearest part
//! only, and the document's key is looked up once per run rather than once per part.
//!
//! Layout: the entries in leaf order (records of an `f32` box rounded outward, the document
//! key and the part: `entry.rs`), where each leaf ends (`leaf_ends`), then the node boxes
//! level by level, implicit: node `j` of a level holds boxes `j·NODE_CHILDREN ..` of the level below.
//! No pointers, so the image is a few flat allocations.
//!
//! Here: the image and its box and distance searches; `entry.rs` is its record, `pack.rs`
//! builds it, `nearest.rs` walks it nearest first.

mod entry;
mod nearest;
mod pack;

pub use pack::ResidentBuilder;

use self::entry::Entry;
use crate::error::Result;
use crate::index::cache::outward;
use crate::index::read::{Search, Visit};
use crate::primitive::Aabb;

/// Most entries per leaf and per run: a leaf is tested entry by entry, so it should be about
/// what a small query's box holds; the 16 of `cache.rs`'s buckets measured best there too.
pub const LEAF_ENTRIES: usize = 16;

/// Boxes per inner node: eight `f32` boxes are 192 bytes, three cache lines tested in a row.
/// A descent is bound by memory latency: 8 measured 10–15% faster than 16 on `bench geo`'s
/// radius and nearest rows (more levels, but fewer boxes fetched per level).
pub const NODE_CHILDREN: usize = 8;

/// The decoded, packed image of one index content.
#[derive(Debug)]
pub struct ResidentIndex {
    /// The entries in leaf order.
    entries: Vec<Entry>,
    /// Keys too long for an entry (`entry.rs`), back to back.
    long_keys: Vec<u8>,
    /// Where each leaf's entries end: leaf `i` holds entries `leaf_ends[i - 1]..leaf_ends[i]`.
    leaf_ends: Vec<u32>,
    /// Bit `i` set: entry `i` starts a leaf's run of one document's entries (adjacent runs
    /// of one document in a leaf count as one).
    run_starts: Vec<u64>,
    /// `nodes[0]`: one box per leaf; `nodes[i + 1]`: one box per run of [`NODE_CHILDREN`]
    /// boxes of `nodes[i]`. The last level has at most `NODE_CHILDREN` boxes.
    nodes: Vec<Vec<[f32; 6]>>,
}

impl ResidentIndex {
    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the image holds no entry.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes the image occupies.
    pub fn bytes(&self) -> usize {
        let boxes: usize = self.nodes.iter().map(Vec::len).sum();
        boxes * std::mem::size_of::<[f32; 6]>()
            + self.entries.len() * std::mem::size_of::<Entry>()
            + self.long_keys.len()
            + self.leaf_ends.len() * std::mem::size_of::<u32>()
            + self.run_starts.len() * std::mem::size_of::<u64>()
    }

    fn key(&self, entry: usize) -> &[u8] {
        self.entries[entry].key(&self.long_keys)
    }

    /// The children of node `index` at `level` (entries for a leaf).
    fn children(&self, level: usize, index: usize) -> std::ops::Range<usize> {
        if level == 0 {
            let start = match index {
                0 => 0,
                _ => self.leaf_ends[index - 1] as usize,
            };
            return start..self.leaf_ends[index] as usize;
        }
        let below = self.nodes[level - 1].len();
        index * NODE_CHILDREN..((index + 1) * NODE_CHILDREN).min(below)
    }

    /// Whether a search may find something in an `f32` box: it overlaps the query box and,
    /// for a distance search, lies within the distance. The box holds every exact box below
    /// it, so this never drops what [`Search::offer`] would keep.
    fn may_hold(search: &Search<'_>, query: &[f32; 6], b: &[f32; 6]) -> bool {
        overlaps(b, query) && (search.ball.is_none() || search.within_ball(&widen(b)))
    }

    /// Offers `search` every part whose box may meet its query, until it stops: every part
    /// [`Search::offer`] would pass on, and a few whose exact box misses the query by less
    /// than the `f32` boxes' rounding (see [`Search::offer_tested`]).
    pub(crate) fn search(&self, search: &mut Search<'_>) -> Result<()> {
        search.stats.resident += 1;
        let Some(top) = self.nodes.len().checked_sub(1) else {
            return Ok(());
        };
        let query = outward(search.query);
        // Level by level rather than depth first: a level's boxes are tested in one loop
        // whose loads do not wait on one another, so their cache misses overlap (a descent
        // is bound by them). Each node kept comes with whether it passes whole.
        let mut frontier: Vec<(usize, bool)> = Vec::new();
        let mut below: Vec<(usize, bool)> = Vec::new();
        let top_boxes = 0..self.nodes[top].len();
        self.keep_passing(
            search,
            &query,
            top,
            top_boxes.map(|i| (i, false)),
            &mut frontier,
        );
        for level in (1..=top).rev() {
            below.clear();
            let children = frontier
                .iter()
                .flat_map(|&(node, whole)| self.children(level, node).map(move |c| (c, whole)));
            self.keep_passing(search, &query, level - 1, children, &mut below);
            std::mem::swap(&mut frontier, &mut below);
        }
        for &(leaf, whole) in &frontier {
            if !self.search_leaf(search, &query, leaf, whole)? {
                break;
            }
        }
        Ok(())
    }

    /// Pushes onto `kept` each of the `level` nodes that may hold a candidate (tested unless
    /// its parent passed whole), with whether it passes whole.
    fn keep_passing(
        &self,
        search: &mut Search<'_>,
        query: &[f32; 6],
        level: usize,
        nodes: impl Iterator<Item = (usize, bool)>,
        kept: &mut Vec<(usize, bool)>,
    ) {
        for (node, known) in nodes {
            let b = &self.nodes[level][node];
            if known || Self::may_hold(search, query, b) {
                kept.push((node, known || Self::passes_whole(search, query, b)));
            }
        }
    }

    /// Offers `search` the parts of leaf `index` that may meet its query (all of them when
    /// `whole`), skipping the rest of a document's run once the visitor is done with the
    /// document; returns whether the search goes on.
    fn search_leaf(
        &self,
        search: &mut Search<'_>,
        query: &[f32; 6],
        index: usize,
        whole: bool,
    ) -> Result<bool> {
        let leaf = self.children(0, index);
        let mut entry = leaf.start;
        while entry < leaf.end {
            search.stats.entries += 1;
            let e = &self.entries[entry];
            if whole || Self::may_hold(search, query, &e.bbox) {
                match search.offer_tested(e.key(&self.long_keys), &e.part)? {
                    Visit::Next => {}
                    Visit::DocumentDone => {
                        entry = self.run_end(entry, leaf.end);
                        continue;
                    }
                    Visit::Stop => return Ok(false),
                }
            }
            entry += 1;
        }
        Ok(true)
    }

    /// Whether every part under box `b` passes [`ResidentIndex::may_hold`]: `b` lies inside
    /// the query box and, for a distance search, wholly within the distance. Such a node's
    /// boxes need no test at all: in a large query most of them are.
    fn passes_whole(search: &Search<'_>, query: &[f32; 6], b: &[f32; 6]) -> bool {
        let inside = (0..3).all(|a| query[a] <= b[a] && b[a + 3] <= query[a + 3]);
        inside
            && search
                .ball
                .is_none_or(|(around, r)| farthest(around, &widen(b)) <= r)
    }

    /// The end of the run holding `entry`: the next entry before `end` that starts one.
    fn run_end(&self, entry: usize, end: usize) -> usize {
        (entry + 1..end)
            .find(|&e| self.run_starts[e / 64] & (1 << (e % 64)) != 0)
            .unwrap_or(end)
    }
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

/// Relative amount box distances are shaved by in [`ResidentIndex::nearest`], far above
/// the rounding of a distance computation (a few units in the last place).
const BOUND_SLACK: f64 = 1e-9;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::distance::primitive_distance;
    use crate::index::read::SearchStats;
    use crate::primitive::Primitive;
    use proptest::prelude::*;

    /// Parts of up to 40 documents (as few as one, so that documents are cut into several
    /// runs): points and triangles scattered over a small cube, some far out, or clustered
    /// around each document's own centre like a mesh (so that whole nodes lie inside a
    /// query and its ball, and runs are compact).
    fn parts() -> impl Strategy<Value = Vec<(u8, Primitive)>> {
        let coord = prop_oneof![-20.0f64..20.0, -1e6f64..1e6];
        let scattered = (1u8..40).prop_flat_map(move |docs| {
            let point = [coord.clone(), coord.clone(), coord.clone()];
            proptest::collection::vec((0..docs, part(point)), 0..300)
        });
        let near = -3.0f64..3.0;
        let clustered =
            proptest::collection::vec([-25.0f64..25.0, -25.0f64..25.0, -25.0f64..25.0], 1..40)
                .prop_flat_map(move |centres| {
                    let docs = centres.len() as u8;
                    let offset = [near.clone(), near.clone(), near.clone()];
                    proptest::collection::vec((0..docs, part(offset)), 0..300).prop_map(
                        move |parts| {
                            let centre = |doc: u8| centres[doc as usize];
                            parts
                                .into_iter()
                                .map(|(doc, p)| (doc, shifted(p, centre(doc))))
                                .collect::<Vec<_>>()
                        },
                    )
                });
        prop_oneof![scattered, clustered]
    }

    /// A point or a small triangle with a corner at `point`.
    fn part(point: [impl Strategy<Value = f64> + Clone; 3]) -> impl Strategy<Value = Primitive> {
        let edge = [-3.0f64..3.0, -3.0f64..3.0, -3.0f64..3.0];
        prop_oneof![
            point.clone().prop_map(Primitive::Point),
            (point, edge.clone(), edge).prop_map(|(a, d, e)| Primitive::Triangle([
                a,
                [a[0] + d[0], a[1] + d[1], a[2] + d[2]],
                [a[0] + e[0], a[1] + e[1], a[2] + e[2]],
            ])),
        ]
    }

    /// `p` moved by `by`.
    fn shifted(p: Primitive, by: [f64; 3]) -> Primitive {
        let add = |q: [f64; 3]| [q[0] + by[0], q[1] + by[1], q[2] + by[2]];
        match p {
            Primitive::Point(q) => Primitive::Point(add(q)),
            Primitive::Triangle(t) => Primitive::Triangle(t.map(add)),
            other => other,
        }
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

        /// A box search offers each part whose exact box meets the query box (and, with a
        /// ball, lies within its distance) once, and nothing whose `f32` box does not.
        #[test]
        fn a_search_offers_what_a_full_scan_finds(
            parts in parts(),
            lo in [-25.0f64..25.0, -25.0f64..25.0, -25.0f64..25.0],
            size in 0.0f64..30.0,
            radius in proptest::option::of(0.0f64..15.0),
        ) {
            let (searched, around) = searched_box(lo, size, radius);
            let ball = radius.map(|r| (&around, r));
            let mut got = Vec::new();
            let mut visit = |key: &[u8], part: &Primitive| {
                got.push((key[0], format!("{part:?}")));
                Ok(Visit::Next)
            };
            let mut search = Search::new(&searched, ball, &mut visit);
            image(&parts).search(&mut search).expect("search");
            let selected = |keep: &dyn Fn(&Primitive) -> bool| {
                let mut out: Vec<(u8, String)> = parts
                    .iter()
                    .filter(|(_, p)| keep(p))
                    .map(|(d, p)| (*d, format!("{p:?}")))
                    .collect();
                out.sort();
                out
            };
            let exact = selected(&|p| must_offer(p, &searched, ball));
            let rounded = selected(&|p| may_offer(p, &searched, ball));
            got.sort();
            for part in &exact {
                prop_assert!(got.binary_search(part).is_ok(), "{:?} not offered", part);
            }
            for part in &got {
                prop_assert!(rounded.binary_search(part).is_ok(), "{:?} offered", part);
            }
            let offered = got.len();
            got.dedup();
            prop_assert_eq!(got.len(), offered, "a part offered twice");
        }

        /// A visitor done with each document as soon as it sees it is still offered every
        /// document with a part the search must offer, and nothing else.
        #[test]
        fn a_search_skips_only_parts_of_finished_documents(
            parts in parts(),
            lo in [-25.0f64..25.0, -25.0f64..25.0, -25.0f64..25.0],
            size in 0.0f64..60.0,
            radius in proptest::option::of(0.0f64..30.0),
        ) {
            let (searched, around) = searched_box(lo, size, radius);
            let ball = radius.map(|r| (&around, r));
            let mut got = std::collections::BTreeSet::new();
            let mut visit = |key: &[u8], part: &Primitive| {
                assert!(may_offer(part, &searched, ball));
                got.insert(key[0]);
                Ok(Visit::DocumentDone)
            };
            let mut search = Search::new(&searched, ball, &mut visit);
            image(&parts).search(&mut search).expect("search");
            for (doc, p) in &parts {
                if must_offer(p, &searched, ball) {
                    prop_assert!(got.contains(doc), "document {} not offered", doc);
                }
            }
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

    /// The box a test searches (from `lo`, `size` wide, or the cube bounding the ball of
    /// `radius` around the point `lo`) and the ball's centre as a box.
    fn searched_box(lo: [f64; 3], size: f64, radius: Option<f64>) -> (Aabb, Aabb) {
        let around = Aabb { min: lo, max: lo };
        let searched = match radius {
            Some(r) => around.expanded(r),
            None => Aabb {
                min: lo,
                max: lo.map(|c| c + size),
            },
        };
        (searched, around)
    }

    /// Whether a search must offer `p`: its exact box passes the test `Search::offer` makes.
    fn must_offer(p: &Primitive, searched: &Aabb, ball: Option<(&Aabb, f64)>) -> bool {
        p.bbox().overlaps(searched) && search_keeps(&p.bbox(), ball)
    }

    /// Whether a search may offer `p`: its `f32` box passes the same test.
    fn may_offer(p: &Primitive, searched: &Aabb, ball: Option<(&Aabb, f64)>) -> bool {
        let b = outward(&p.bbox());
        overlaps(&b, &outward(searched)) && search_keeps(&widen(&b), ball)
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
        let mut visit = |_: &[u8], _: &Primitive| -> Result<Visit> { panic!("nothing to visit") };
        let mut search = Search::new(&q, None, &mut visit);
        image.search(&mut search).expect("search");
    }
}
