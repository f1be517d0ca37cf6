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
//! Leaves are made of *runs*: up to [`LEAF_ENTRIES`] parts of one document, neighbours along
//! a Morton curve of that document's parts. A small mesh is one or two runs and a point one;
//! a large mesh is many runs, each a patch of it, so a query touching one corner of it tests
//! only that corner. Runs are packed into leaves of at most [`LEAF_ENTRIES`] parts in the
//! Morton order of their boxes' centres. A run's parts share a document, which the walks
//! rely on: a nearest-neighbour walk measures a run at once and queues its nearest part
//! only, and the document's key is looked up once per run rather than once per part.
//!
//! Layout: the entries in leaf order (`f32` boxes rounded outward, the parts, the document
//! keys back to back), where each leaf ends (`leaf_ends`), then the node boxes level by
//! level, implicit: node `j` of a level holds boxes `j·NODE_CHILDREN ..` of the level below.
//! No pointers, so the image is a few flat allocations.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::BuildHasher;

use crate::error::Result;
use crate::index::cache::outward;
use crate::index::grid::morton;
use crate::index::read::{Search, SearchStats, Visit};
use crate::primitive::{Aabb, Primitive};

/// Most entries per leaf and per run: a leaf is tested entry by entry, so it should be about
/// what a small query's box holds; the 16 of `cache.rs`'s buckets measured best there too.
pub const LEAF_ENTRIES: usize = 16;

/// Boxes per inner node: eight `f32` boxes are 192 bytes, three cache lines tested in a row.
/// A descent is bound by memory latency: 8 measured 10–15% faster than 16 on `bench geo`'s
/// radius and nearest rows (more levels, but fewer boxes fetched per level).
pub const NODE_CHILDREN: usize = 8;

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

    fn key(&self, entry: usize) -> &[u8] {
        key_of(&self.keys, &self.key_ends, entry)
    }

    /// Cuts the entries into runs (see the module comment), packs the runs into leaves and
    /// builds the tree.
    pub fn finish(self) -> ResidentIndex {
        let leaves = self.leaves(&self.runs());
        let mut leaf_boxes = self.group_boxes(&leaves);
        let mut order: Vec<u32> = (0..leaves.len() as u32).collect();
        let mut subtree = 1;
        while subtree * NODE_CHILDREN < leaves.len() {
            subtree *= NODE_CHILDREN;
        }
        tile(&mut order, &leaf_boxes, subtree);
        let n = self.parts.len();
        let mut boxes = Vec::with_capacity(n);
        let mut parts = Vec::with_capacity(n);
        let mut key_ends = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(self.keys.len());
        let mut leaf_ends: Vec<u32> = Vec::with_capacity(leaves.len());
        let mut run_starts = vec![0u64; n.div_ceil(64)];
        for &leaf in &order {
            let mut previous: Option<&[u8]> = None;
            for &i in leaves.group(leaf as usize) {
                let i = i as usize;
                if previous != Some(self.key(i)) {
                    run_starts[boxes.len() / 64] |= 1 << (boxes.len() % 64);
                }
                previous = Some(self.key(i));
                boxes.push(self.boxes[i]);
                parts.push(self.parts[i]);
                keys.extend_from_slice(self.key(i));
                // Same total length as the builder's buffer, which `push` kept within `u32`.
                key_ends.push(keys.len() as u32);
            }
            // Entry counts fit `u32`: the builder's key offsets do.
            leaf_ends.push(boxes.len() as u32);
        }
        leaf_boxes = order.iter().map(|&l| leaf_boxes[l as usize]).collect();
        let mut nodes = vec![leaf_boxes];
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
            leaf_ends,
            run_starts,
            nodes,
        }
    }

    /// The runs packed into leaves of at most [`LEAF_ENTRIES`] entries, in the Morton order
    /// of the runs' boxes' centres: each leaf as its entries.
    fn leaves(&self, runs: &Groups) -> Groups {
        let mut leaves = Groups::with_capacity(self.parts.len(), runs.len());
        for r in packing_order(&self.group_boxes(runs)) {
            let run = runs.group(r as usize);
            if leaves.last_len() + run.len() > LEAF_ENTRIES {
                leaves.cut();
            }
            leaves.items.extend_from_slice(run);
        }
        leaves.cut();
        leaves
    }

    /// The box of each group of entries.
    fn group_boxes(&self, groups: &Groups) -> Vec<[f32; 6]> {
        (0..groups.len())
            .map(|g| union(groups.group(g).iter().map(|&i| &self.boxes[i as usize])))
            .collect()
    }

    /// The entries cut into runs: each document's entries in the Morton order of their
    /// centres, cut into the fewest runs of at most [`LEAF_ENTRIES`], of even lengths.
    fn runs(&self) -> Groups {
        let n = self.parts.len();
        let codes = morton_codes(&self.boxes);
        // Documents numbered in order of first appearance, then entries placed by document
        // (a counting sort: far cheaper than sorting a million entries by key).
        let mut numbers: HashMap<&[u8], u32, foldhash::fast::FixedState> = HashMap::default();
        let doc_of: Vec<u32> = (0..n)
            .map(|i| {
                let next = numbers.len() as u32;
                *numbers.entry(self.key(i)).or_insert(next)
            })
            .collect();
        let mut starts = vec![0u32; numbers.len() + 1];
        for &d in &doc_of {
            starts[d as usize + 1] += 1;
        }
        for d in 1..starts.len() {
            starts[d] += starts[d - 1];
        }
        let mut placed = starts.clone();
        let mut items = vec![0u32; n];
        for (i, &d) in doc_of.iter().enumerate() {
            items[placed[d as usize] as usize] = i as u32;
            placed[d as usize] += 1;
        }
        let mut runs = Groups::with_capacity(n, n / 2 + 1);
        for doc in starts.windows(2) {
            let entries = &mut items[doc[0] as usize..doc[1] as usize];
            entries.sort_unstable_by_key(|&i| codes[i as usize]);
            let count = entries.len().div_ceil(LEAF_ENTRIES);
            let mut start = 0;
            for r in 1..=count {
                let end = entries.len() * r / count;
                runs.items.extend_from_slice(&entries[start..end]);
                runs.cut();
                start = end;
            }
        }
        runs
    }
}

/// Groups of entries (runs, leaves) as one flat list of entry indexes and where each group
/// ends: no allocation per group.
struct Groups {
    items: Vec<u32>,
    ends: Vec<u32>,
}

impl Groups {
    fn with_capacity(items: usize, groups: usize) -> Groups {
        Groups {
            items: Vec::with_capacity(items),
            ends: Vec::with_capacity(groups),
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn group(&self, g: usize) -> &[u32] {
        let start = match g {
            0 => 0,
            _ => self.ends[g - 1] as usize,
        };
        &self.items[start..self.ends[g] as usize]
    }

    /// Items since the last cut.
    fn last_len(&self) -> usize {
        self.items.len() - self.ends.last().map_or(0, |&e| e as usize)
    }

    /// Ends the group being built, unless it is empty. (Item counts fit `u32`: the
    /// builder's key offsets do.)
    fn cut(&mut self) {
        if self.last_len() > 0 {
            self.ends.push(self.items.len() as u32);
        }
    }
}

/// Orders `items` (indexes into `boxes`) so that each run of `subtree` consecutive items,
/// and recursively each run of `subtree / NODE_CHILDREN` within it, is a compact tile of
/// space: sort-tile-recursive packing, top down. The implicit tree groups consecutive boxes,
/// so the tiles are its nodes; a curve order alone leaves upper nodes long and overlapping
/// wherever the curve jumps, and a descent then tests many of them.
///
/// Every cut falls at a multiple of `subtree` items, so every node but the last of each
/// level is full, as the implicit layout requires.
fn tile(items: &mut [u32], boxes: &[[f32; 6]], subtree: usize) {
    if subtree <= 1 || items.len() <= subtree {
        if subtree > 1 {
            tile(items, boxes, subtree / NODE_CHILDREN);
        }
        return;
    }
    let centre = |i: u32, a: usize| {
        let b = &boxes[i as usize];
        f64::from(b[a]) + f64::from(b[a + 3])
    };
    let groups = items.len().div_ceil(subtree);
    let mut side = 1;
    while side * side * side < groups {
        side += 1;
    }
    items.sort_unstable_by(|&p, &q| centre(p, 0).total_cmp(&centre(q, 0)));
    for slab in items.chunks_mut(subtree * side * side) {
        slab.sort_unstable_by(|&p, &q| centre(p, 1).total_cmp(&centre(q, 1)));
        for strip in slab.chunks_mut(subtree * side) {
            strip.sort_unstable_by(|&p, &q| centre(p, 2).total_cmp(&centre(q, 2)));
            for group in strip.chunks_mut(subtree) {
                tile(group, boxes, subtree / NODE_CHILDREN);
            }
        }
    }
}

/// The boxes' indexes sorted by [`morton_codes`].
fn packing_order(boxes: &[[f32; 6]]) -> Vec<u32> {
    let mut keyed: Vec<(u128, u32)> = morton_codes(boxes)
        .into_iter()
        .enumerate()
        // Box counts fit `u32`: the builder's key offsets do.
        .map(|(i, code)| (code, i as u32))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// The Morton code of each box's centre, quantised to [`ORDER_BITS`] per axis over the
/// centres' bounding box.
fn morton_codes(boxes: &[[f32; 6]]) -> Vec<u128> {
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
    boxes
        .iter()
        .map(|b| morton(quantise(b, 0), quantise(b, 1), quantise(b, 2)))
        .collect()
}

/// The union box of each run of `run` consecutive boxes.
fn union_runs(boxes: &[[f32; 6]], run: usize) -> Vec<[f32; 6]> {
    boxes.chunks(run).map(union).collect()
}

/// The smallest box holding `boxes`.
fn union<'a>(boxes: impl IntoIterator<Item = &'a [f32; 6]>) -> [f32; 6] {
    let empty = [
        f32::INFINITY,
        f32::INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
    ];
    boxes.into_iter().fold(empty, |mut u, b| {
        for a in 0..3 {
            u[a] = u[a].min(b[a]);
            u[a + 3] = u[a + 3].max(b[a + 3]);
        }
        u
    })
}

/// Entry `entry`'s key in keys stored back to back, each ending at its `ends` offset.
fn key_of<'a>(keys: &'a [u8], ends: &[u32], entry: usize) -> &'a [u8] {
    let start = match entry {
        0 => 0,
        _ => ends[entry - 1] as usize,
    };
    &keys[start..ends[entry] as usize]
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
    /// Where each leaf's entries end: leaf `i` holds entries `leaf_ends[i - 1]..leaf_ends[i]`.
    leaf_ends: Vec<u32>,
    /// Bit `i` set: entry `i` starts a leaf's run of one document's entries (adjacent runs
    /// of one document in a leaf count as one).
    run_starts: Vec<u64>,
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
            + (self.key_ends.len() + self.leaf_ends.len()) * std::mem::size_of::<u32>()
            + self.run_starts.len() * std::mem::size_of::<u64>()
            + self.keys.len()
    }

    fn key(&self, entry: usize) -> &[u8] {
        key_of(&self.keys, &self.key_ends, entry)
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
            if whole || Self::may_hold(search, query, &self.boxes[entry]) {
                match search.offer_tested(self.key(entry), &self.parts[entry])? {
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
        let boxes = &self.boxes[run.entries.clone()];
        let mut closest = 0;
        for (i, b) in boxes.iter().enumerate() {
            lower[i] = widen(b).distance(run.around) * (1.0 - BOUND_SLACK);
            if lower[i] < lower[closest] {
                closest = i;
            }
        }
        // The document lies within the farthest point of any of its boxes: the box nearest
        // the shape gives a tight enough bound at a fraction of the cost of all of them.
        within.offer(run.key, farthest(run.around, &widen(&boxes[closest])));
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
            let exact = distance(&self.parts[entry]);
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

    /// Parts of up to 40 documents (as few as one, so that documents are cut into several
    /// runs): points and triangles in a small cube, some far out.
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
        (1u8..40)
            .prop_flat_map(move |docs| proptest::collection::vec((0..docs, part.clone()), 0..300))
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
            let exact = selected(&|p| p.bbox().overlaps(&searched) && search_keeps(&p.bbox(), ball));
            let rounded = selected(&|p| {
                let b = outward(&p.bbox());
                overlaps(&b, &outward(&searched)) && search_keeps(&widen(&b), ball)
            });
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
            let query = Aabb { min: lo, max: lo.map(|c| c + size) };
            let around = Aabb { min: lo, max: lo };
            let searched = match radius {
                Some(r) => around.expanded(r),
                None => query,
            };
            let ball = radius.map(|r| (&around, r));
            let mut got = std::collections::BTreeSet::new();
            let mut visit = |key: &[u8], part: &Primitive| {
                let b = outward(&part.bbox());
                assert!(overlaps(&b, &outward(&searched)) && search_keeps(&widen(&b), ball));
                got.insert(key[0]);
                Ok(Visit::DocumentDone)
            };
            let mut search = Search::new(&searched, ball, &mut visit);
            image(&parts).search(&mut search).expect("search");
            for (doc, p) in &parts {
                if p.bbox().overlaps(&searched) && search_keeps(&p.bbox(), ball) {
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
