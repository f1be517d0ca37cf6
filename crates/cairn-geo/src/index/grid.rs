//! The multi-level loose grid: which cell a part lives in, and which key ranges a query box
//! must read.
//!
//! Level `L` has cubic cells of edge `2^(L - LEVEL_BIAS)`. A part is stored at the finest level
//! whose cell edge is at least the part's largest extent *and* whose cell coordinates of the
//! part's lowest corner fit in [`CELL_BITS`] bits, in the cell holding that lowest corner. So
//! a part in cell `c` spans at most `[c, c + 2)` cells on every axis ("loose" cells), and a
//! query box `[q0, q1]` can only overlap parts of cells `floor(q0/edge) - 1 ..= floor(q1/edge)`.
//! Cell edges are powers of two, so `x / edge` and the floor are exact in `f64`.
//!
//! Cells are numbered along a Morton (Z-order) curve, so every aligned block of `2^k` cells per
//! axis is one contiguous key range: a query reads at most [`MAX_RANGES_PER_LEVEL`] ranges per
//! level, choosing the block size that keeps it there. Parts too large or too far out for any
//! level go to [`OVERFLOW_LEVEL`], which every query reads whole.

use crate::primitive::Aabb;

/// Bits per axis of a cell coordinate (biased to unsigned); three axes interleave into 126 bits.
pub const CELL_BITS: u32 = 42;
/// Added to a level number's exponent: level `L` has cell edge `2^(L - LEVEL_BIAS)`, so the
/// finest cells are `2^-64` wide.
pub const LEVEL_BIAS: i32 = 64;
/// The coarsest regular level (cell edge `2^136`, about `8.7e40`).
pub const LEVEL_MAX: u8 = 200;
/// Where parts go that no regular level can hold (beyond `~1e53` from the origin, or larger
/// than the coarsest cell); every query reads it whole.
pub const OVERFLOW_LEVEL: u8 = 255;
/// Most key ranges a query reads per level: past it, the ranges separated by the smallest
/// gaps are merged. Each range costs one B-tree descent (about a microsecond, the price of
/// several entries), so a few ranges with small over-read beat many exact ones.
pub const MAX_RANGES_PER_LEVEL: u64 = 16;
/// Most aligned blocks the exact decomposition of a query box may refine down to per level;
/// bounds the work of computing ranges for huge boxes (blocks straddling the box border at
/// that size are read whole).
pub const MAX_DECOMPOSITION_BLOCKS: u64 = 512;

const HALF: i64 = 1 << (CELL_BITS - 1);

/// The cell edge of a regular level.
pub fn cell_edge(level: u8) -> f64 {
    2f64.powi(i32::from(level) - LEVEL_BIAS)
}

/// Cell coordinate of `x` at cell edge `edge`, biased to `[0, 2^CELL_BITS)`; `None` when out
/// of range.
fn cell_of(x: f64, edge: f64) -> Option<u64> {
    let c = (x / edge).floor();
    if c >= -(HALF as f64) && c < HALF as f64 {
        Some((c as i64 + HALF) as u64)
    } else {
        None
    }
}

/// The level and Morton-coded cell of a part with bounding box `b`.
pub fn place(b: &Aabb) -> (u8, u128) {
    let extent = b.extent();
    let mut level = if extent <= cell_edge(0) {
        0
    } else {
        // The exponent of the smallest power of two >= extent, then checked and bumped below.
        let e = extent.log2().ceil() as i32 + LEVEL_BIAS;
        e.clamp(0, i32::from(LEVEL_MAX)) as u8
    };
    while level <= LEVEL_MAX {
        let edge = cell_edge(level);
        if edge >= extent {
            if let (Some(x), Some(y), Some(z)) = (
                cell_of(b.min[0], edge),
                cell_of(b.min[1], edge),
                cell_of(b.min[2], edge),
            ) {
                return (level, morton(x, y, z));
            }
        }
        level += 1;
    }
    (OVERFLOW_LEVEL, 0)
}

/// `SPREAD_BYTE[b]`: the 8 bits of `b` moved to every third bit (bit `i` to bit `3i`).
const SPREAD_BYTE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut b = 0;
    while b < 256 {
        let mut bit = 0;
        let mut out = 0u32;
        while bit < 8 {
            out |= ((b as u32 >> bit) & 1) << (3 * bit);
            bit += 1;
        }
        table[b] = out;
        b += 1;
    }
    table
};

/// Spreads the low [`CELL_BITS`] bits of `v` to every third bit, a byte at a time through
/// [`SPREAD_BYTE`] (a bit-by-bit loop showed up in query profiles).
fn spread(v: u64) -> u128 {
    let v = v & ((1u64 << CELL_BITS) - 1);
    let mut out = 0u128;
    for byte in 0..CELL_BITS.div_ceil(8) {
        let b = ((v >> (8 * byte)) & 0xFF) as usize;
        out |= u128::from(SPREAD_BYTE[b]) << (24 * byte);
    }
    out
}

/// Interleaves three cell coordinates (x lowest).
pub fn morton(x: u64, y: u64, z: u64) -> u128 {
    spread(x) | (spread(y) << 1) | (spread(z) << 2)
}

/// Inclusive cell coordinates `(lo, hi)` of one axis.
type Span = (u64, u64);

/// The Morton ranges (inclusive) of level `level` that may hold parts overlapping `query`,
/// sorted and disjoint.
///
/// The cell box is first decomposed exactly: an octree descent over aligned blocks emits every
/// block lying wholly inside the box as one Morton range (adjacent ones merged), refining only
/// blocks that straddle its border, down to the finest block size at which the box spans at
/// most [`MAX_DECOMPOSITION_BLOCKS`] blocks (straddling blocks of that size are read whole).
/// Then, while there are more than [`MAX_RANGES_PER_LEVEL`] ranges, the smallest gaps between
/// neighbours are bridged: each range costs a B-tree descent, a small gap only a few extra
/// entries. Compared with reading whole aligned blocks of a coarser size, this reads far fewer
/// cells outside the box with fewer ranges.
pub fn ranges(level: u8, query: &Aabb) -> Vec<(u128, u128)> {
    ranges_near(level, query, None)
}

/// [`ranges`], additionally skipping every block whose parts all lie farther than `r` from
/// the box `around` when `ball` is `Some((around, r))` (a distance query reads the ball around
/// its shape rather than the whole box, about half the volume).
pub fn ranges_near(level: u8, query: &Aabb, ball: Option<(&Aabb, f64)>) -> Vec<(u128, u128)> {
    let edge = cell_edge(level);
    let top = (1u64 << CELL_BITS) - 1;
    let axis = |a: usize| -> Span {
        let clamp = |c: f64| -> u64 {
            let c = c.clamp(-(HALF as f64), (HALF - 1) as f64);
            (c as i64 + HALF) as u64
        };
        // One cell lower: a part whose lowest corner is there may reach into the query.
        let lo = clamp((query.min[a] / edge).floor() - 1.0);
        let hi = clamp((query.max[a] / edge).floor());
        (lo, hi.min(top).max(lo))
    };
    let cells = [axis(0), axis(1), axis(2)];
    let blocks = |(lo, hi): Span, k: u32| (hi >> k) - (lo >> k) + 1;
    let mut floor = 0;
    while floor < CELL_BITS
        && blocks(cells[0], floor)
            .saturating_mul(blocks(cells[1], floor))
            .saturating_mul(blocks(cells[2], floor))
            > MAX_DECOMPOSITION_BLOCKS
    {
        floor += 1;
    }
    // The smallest aligned block holding the whole box: all coordinates agree above it.
    let root = cells
        .iter()
        .map(|(lo, hi)| u64::BITS - (lo ^ hi).leading_zeros())
        .max()
        .unwrap_or(0)
        .max(floor);
    let mut out = Vec::new();
    let start = [cells[0].0 >> root, cells[1].0 >> root, cells[2].0 >> root];
    let walk = Decomposition {
        cells,
        floor,
        level,
        ball,
    };
    walk.decompose(root, start, &mut out);
    bridge_smallest_gaps(&mut out, MAX_RANGES_PER_LEVEL as usize);
    out
}

/// One box's decomposition into Morton ranges.
struct Decomposition<'b> {
    cells: [Span; 3],
    floor: u32,
    level: u8,
    ball: Option<(&'b Aabb, f64)>,
}

impl Decomposition<'_> {
    /// Appends the Morton ranges of the aligned block `block` (coordinates in units of
    /// `2^shift` cells) that cover its intersection with the cell box, in Morton order.
    fn decompose(&self, shift: u32, block: [u64; 3], out: &mut Vec<(u128, u128)>) {
        let mut inside = true;
        for (b, (lo, hi)) in block.iter().zip(&self.cells) {
            let first = b << shift;
            let last = first + ((1u64 << shift) - 1);
            if last < *lo || first > *hi {
                return;
            }
            inside &= first >= *lo && last <= *hi;
        }
        if let Some((around, r)) = self.ball {
            // Parts stored in the block lie in it grown by one cell on the high side; the
            // margins keep rounding from ever dropping a block that holds a part within `r`.
            let region = block_region(self.level, shift, block);
            if region.distance(around) * (1.0 - 1e-9) > r {
                return;
            }
        }
        if inside || shift <= self.floor {
            let low = morton(block[0] << shift, block[1] << shift, block[2] << shift);
            let high = low + ((1u128 << (3 * shift)) - 1);
            match out.last_mut() {
                Some(last) if last.1.checked_add(1) == Some(low) => last.1 = high,
                _ => out.push((low, high)),
            }
            return;
        }
        // Children in Morton order (x is the lowest interleaved bit), so output stays sorted.
        for child in 0..8u64 {
            let next = [
                block[0] * 2 + (child & 1),
                block[1] * 2 + ((child >> 1) & 1),
                block[2] * 2 + ((child >> 2) & 1),
            ];
            self.decompose(shift - 1, next, out);
        }
    }
}

/// The region where parts of level `level` stored in the aligned block `block` can lie: the
/// block grown by one cell on its high side (a part spans at most two cells per axis from its
/// own), widened by a relative `1e-12` so it errs outward.
fn block_region(level: u8, shift: u32, block: [u64; 3]) -> Aabb {
    let edge = cell_edge(level);
    let mut min = [0.0; 3];
    let mut max = [0.0; 3];
    for a in 0..3 {
        let first = (block[a] << shift) as i64 - HALF;
        let past = first + (1i64 << shift) + 1;
        let (lo, hi) = (first as f64 * edge, past as f64 * edge);
        min[a] = lo - lo.abs() * 1e-12;
        max[a] = hi + hi.abs() * 1e-12;
    }
    Aabb { min, max }
}

/// Merges neighbours across the smallest gaps until at most `max` ranges remain.
fn bridge_smallest_gaps(ranges: &mut Vec<(u128, u128)>, max: usize) {
    if ranges.len() <= max.max(1) {
        return;
    }
    let mut gaps: Vec<(u128, usize)> = ranges
        .windows(2)
        .enumerate()
        .map(|(i, w)| (w[1].0 - w[0].1, i))
        .collect();
    gaps.sort_unstable();
    let mut bridged = vec![false; ranges.len()];
    for (_, i) in gaps.iter().take(ranges.len() - max.max(1)) {
        bridged[*i] = true;
    }
    let mut merged: Vec<(u128, u128)> = Vec::with_capacity(max);
    let mut joining = false;
    for (i, range) in ranges.iter().enumerate() {
        match merged.last_mut() {
            Some(last) if joining => last.1 = range.1,
            _ => merged.push(*range),
        }
        joining = bridged[i];
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_found_by_every_query_box_it_overlaps() {
        let part = Aabb {
            min: [0.9, -3.2, 5.0],
            max: [2.4, -2.0, 5.5],
        };
        let (level, cell) = place(&part);
        assert!(cell_edge(level) >= part.extent());
        let probes = [
            Aabb::of_point([2.4, -2.0, 5.5]),
            Aabb::of_point([0.9, -3.2, 5.0]),
            Aabb {
                min: [2.3, -2.1, 5.4],
                max: [9.0, 9.0, 9.0],
            },
        ];
        for q in probes {
            assert!(ranges(level, &q)
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&cell)));
        }
    }

    fn naive_spread(v: u64) -> u128 {
        (0..CELL_BITS).fold(0u128, |out, bit| {
            out | (u128::from((v >> bit) & 1) << (3 * bit))
        })
    }

    #[test]
    fn table_spread_equals_the_bit_loop() {
        for v in [0, 1, 0xFF, 0x1234_5678_9ABC, (1 << CELL_BITS) - 1, u64::MAX] {
            assert_eq!(spread(v), naive_spread(v & ((1 << CELL_BITS) - 1)));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Every cell a query box must read lies in one of its ranges, the ranges are sorted
        /// and disjoint, and there are at most `MAX_RANGES_PER_LEVEL` of them.
        #[test]
        fn ranges_cover_every_cell_of_the_box(
            min in proptest::array::uniform3(-40.0f64..40.0),
            size in proptest::array::uniform3(0.0f64..30.0),
        ) {
            let level = LEVEL_BIAS as u8; // cells of edge 1
            let query = Aabb {
                min,
                max: [min[0] + size[0], min[1] + size[1], min[2] + size[2]],
            };
            let got = ranges(level, &query);
            proptest::prop_assert!(got.len() <= MAX_RANGES_PER_LEVEL as usize);
            for pair in got.windows(2) {
                proptest::prop_assert!(pair[0].1 < pair[1].0);
            }
            let cell = |x: f64| (x.floor() as i64 + HALF) as u64;
            for z in cell(query.min[2]) - 1..=cell(query.max[2]) {
                for y in cell(query.min[1]) - 1..=cell(query.max[1]) {
                    for x in cell(query.min[0]) - 1..=cell(query.max[0]) {
                        let code = morton(x, y, z);
                        proptest::prop_assert!(
                            got.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code)),
                            "cell ({x}, {y}, {z}) not read"
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// With a ball, every cell that may hold a part within the distance is still read.
        #[test]
        fn ball_ranges_keep_every_cell_within_the_distance(
            center in proptest::array::uniform3(-30.0f64..30.0),
            r in 0.0f64..12.0,
        ) {
            let level = LEVEL_BIAS as u8 + 1; // cells of edge 2
            let around = Aabb::of_point(center);
            let query = around.expanded(r);
            let got = ranges_near(level, &query, Some((&around, r)));
            let cell = |x: f64| ((x / 2.0).floor() as i64 + HALF) as u64;
            for z in cell(query.min[2]) - 1..=cell(query.max[2]) {
                for y in cell(query.min[1]) - 1..=cell(query.max[1]) {
                    for x in cell(query.min[0]) - 1..=cell(query.max[0]) {
                        if block_region(level, 0, [x, y, z]).distance(&around) > r {
                            continue;
                        }
                        let code = morton(x, y, z);
                        proptest::prop_assert!(
                            got.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code)),
                            "cell ({x}, {y}, {z}) not read"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn huge_coordinates_go_to_the_overflow_level() {
        let far = Aabb::of_point([1e300, 0.0, 0.0]);
        assert_eq!(place(&far).0, OVERFLOW_LEVEL);
        let whole = Aabb {
            min: [f64::NEG_INFINITY; 3],
            max: [f64::INFINITY; 3],
        };
        assert!(ranges(10, &whole).len() <= MAX_RANGES_PER_LEVEL as usize);
    }
}
