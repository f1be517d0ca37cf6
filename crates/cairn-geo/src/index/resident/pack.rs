//! Building a resident image: entries cut into runs of one document, runs packed into
//! leaves along a Morton curve, leaves tiled top down into the implicit tree.

use std::collections::HashMap;

use super::entry::Entry;
use super::{ResidentIndex, LEAF_ENTRIES, NODE_CHILDREN};
use crate::index::cache::outward;
use crate::index::grid::morton;
use crate::primitive::Primitive;

/// Bits per axis of the packing order (a Morton code of the quantised centre).
const ORDER_BITS: u32 = 21;

/// Bytes an entry takes in the image besides a long document key: its record (`entry.rs`).
/// The budget counts every key's bytes on top, which overstates short keys (held in the
/// record) but never understates the image.
const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

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

    /// Bytes the entries will take in the image, at most (the image adds its node boxes, about
    /// a fortieth more).
    pub fn bytes(&self) -> usize {
        self.parts.len() * ENTRY_BYTES + self.keys.len()
    }

    fn key(&self, entry: usize) -> &[u8] {
        let start = match entry {
            0 => 0,
            _ => self.key_ends[entry - 1] as usize,
        };
        &self.keys[start..self.key_ends[entry] as usize]
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
        let mut entries = Vec::with_capacity(n);
        let mut long_keys = Vec::new();
        let mut leaf_ends: Vec<u32> = Vec::with_capacity(leaves.len());
        let mut run_starts = vec![0u64; n.div_ceil(64)];
        for &leaf in &order {
            let mut previous: Option<&[u8]> = None;
            for &i in leaves.group(leaf as usize) {
                let i = i as usize;
                let key = self.key(i);
                if previous != Some(key) {
                    run_starts[entries.len() / 64] |= 1 << (entries.len() % 64);
                }
                previous = Some(key);
                entries.push(Entry::new(
                    self.boxes[i],
                    self.parts[i],
                    key,
                    &mut long_keys,
                ));
            }
            // Entry counts fit `u32`: the builder's key offsets do.
            leaf_ends.push(entries.len() as u32);
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
            entries,
            long_keys,
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

#[cfg(test)]
mod tests {
    use super::*;

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
