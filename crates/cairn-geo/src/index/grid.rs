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
//! Cells are numbered along a Morton (Z-order) curve. A query does not enumerate the cells of
//! its box: it walks the index forward and, whenever the walk has left the box, jumps to the
//! next Morton code inside it ([`next_in_box`], the BIGMIN step of Tropf and Herzog's Z-order
//! range search). Empty stretches of the box cost nothing, and each jump is one B-tree
//! descent, so the work follows the entries near the query rather than the cells it spans.
//! Parts too large or too far out for any level go to [`OVERFLOW_LEVEL`], which every query
//! reads whole.

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

/// `COMPACT_BYTE[b]`: bits 0, 3 and 6 of `b` gathered into bits 0..3 (the inverse of
/// [`SPREAD_BYTE`], three bits at a time).
const COMPACT_BYTE: [u8; 512] = {
    let mut table = [0u8; 512];
    let mut b = 0;
    while b < 512 {
        table[b] = ((b & 1) | ((b >> 2) & 2) | ((b >> 4) & 4)) as u8;
        b += 1;
    }
    table
};

/// Gathers every third bit of `code` (bit `3i` to bit `i`), nine code bits at a time.
fn compact(code: u128) -> u64 {
    let mut out = 0u64;
    for chunk in 0..CELL_BITS.div_ceil(3) {
        let bits = ((code >> (9 * chunk)) & 0x1FF) as usize;
        out |= u64::from(COMPACT_BYTE[bits]) << (3 * chunk);
    }
    out
}

/// The cell coordinates of a Morton code (the inverse of [`morton`]).
pub fn unmorton(code: u128) -> [u64; 3] {
    [compact(code), compact(code >> 1), compact(code >> 2)]
}

/// The region where parts stored in the aligned block `block` of level `level` can lie (block
/// coordinates in units of `2^shift` cells): the block grown by one cell on its high side (a
/// part spans at most two cells per axis from its own), widened by a relative `1e-12` so it
/// errs outward.
pub fn block_region(level: u8, shift: u32, block: [u64; 3]) -> Aabb {
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

/// The largest aligned block (as its Morton code range) holding the cell `code` whose parts
/// all lie farther than `r` from `around`, searching blocks up to `2^max_shift` cells wide;
/// `None` when even the cell itself may hold a part within `r`.
pub fn block_beyond(
    level: u8,
    code: u128,
    around: &Aabb,
    r: f64,
    max_shift: u32,
) -> Option<(u128, u128)> {
    // Squared distances only err towards "may be within" (see `Aabb::distance_squared`).
    let beyond = |shift: u32, cell: [u64; 3]| {
        let block = cell.map(|c| c >> shift);
        block_region(level, shift, block).distance_squared(around) * (1.0 - 2e-9) > r * r
    };
    let cell = unmorton(code);
    if !beyond(0, cell) {
        return None;
    }
    let mut shift = 0;
    while shift < max_shift.min(CELL_BITS) && beyond(shift + 1, cell) {
        shift += 1;
    }
    let low_bits = (1u128 << (3 * shift)) - 1;
    Some((code & !low_bits, code | low_bits))
}

/// The cells of one level a query box must read, as inclusive cell coordinates per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellBox {
    /// Lowest cell per axis.
    pub lo: [u64; 3],
    /// Highest cell per axis.
    pub hi: [u64; 3],
}

impl CellBox {
    /// The cells of `level` that may hold parts overlapping `query`: those of the box, and one
    /// more on each low side (a part whose lowest corner lies there may reach into it).
    pub fn of_query(level: u8, query: &Aabb) -> CellBox {
        let edge = cell_edge(level);
        let top = (1u64 << CELL_BITS) - 1;
        let clamp = |c: f64| -> u64 {
            let c = c.clamp(-(HALF as f64), (HALF - 1) as f64);
            (c as i64 + HALF) as u64
        };
        let mut lo = [0; 3];
        let mut hi = [0; 3];
        for a in 0..3 {
            lo[a] = clamp((query.min[a] / edge).floor() - 1.0);
            hi[a] = clamp((query.max[a] / edge).floor()).min(top).max(lo[a]);
        }
        CellBox { lo, hi }
    }

    /// Whether the cell `cell` lies in the box (the tests' reference for the Morton bounds).
    #[cfg(test)]
    pub fn contains(&self, cell: [u64; 3]) -> bool {
        (0..3).all(|a| self.lo[a] <= cell[a] && cell[a] <= self.hi[a])
    }

    /// The Morton codes of the lowest and highest corners: every cell of the box has a code
    /// between them (Morton order is monotone on every axis).
    pub fn code_bounds(&self) -> (u128, u128) {
        (
            morton(self.lo[0], self.lo[1], self.lo[2]),
            morton(self.hi[0], self.hi[1], self.hi[2]),
        )
    }
}

/// The bits of a Morton code that hold the x coordinate (y and z: shifted by 1 and 2).
const AXIS_X: u128 = {
    let mut mask = 0u128;
    let mut i = 0;
    while i < 3 * CELL_BITS {
        mask |= 1 << i;
        i += 3;
    }
    mask
};

/// The bits of a Morton code that belong to the same axis as `bit` and lie below it.
fn same_axis_below(bit: u32) -> u128 {
    (AXIS_X << (bit % 3)) & ((1u128 << bit) - 1)
}

/// Whether the cell of Morton code `code` lies in the box with corner codes `(zmin, zmax)`,
/// compared axis by axis on the interleaved bits (spreading bits keeps each axis's order),
/// without decoding the cell.
pub fn code_in_box(code: u128, zmin: u128, zmax: u128) -> bool {
    (0..3).all(|a| {
        let mask = AXIS_X << a;
        let c = code & mask;
        zmin & mask <= c && c <= zmax & mask
    })
}

/// The smallest Morton code greater than `code` whose cell lies in the box with corner codes
/// `(zmin, zmax)`, or `None` when there is none. `code` must lie outside the box (the
/// question is where the curve next re-enters it).
///
/// This is BIGMIN (Tropf and Herzog, 1981): scanning from the top bit, wherever the box's
/// corners differ the box splits into a lower and an upper half along that bit's axis; the
/// search follows the half `code` lies in and remembers the upper half's lowest code as the
/// answer should the lower half hold nothing above `code`.
pub fn next_in_box(code: u128, zmin: u128, zmax: u128) -> Option<u128> {
    let (mut zmin, mut zmax) = (zmin, zmax);
    let mut best = None;
    // Above the highest bit where any two of the three differ, all agree: nothing to decide.
    let differing = (code ^ zmin) | (zmin ^ zmax) | (code ^ zmax);
    let top = u128::BITS - differing.leading_zeros();
    for bit in (0..top).rev() {
        let mask = 1u128 << bit;
        let below = same_axis_below(bit);
        match (code & mask != 0, zmin & mask != 0, zmax & mask != 0) {
            (false, false, true) => {
                // The upper half's lowest code is a candidate; go on in the lower half.
                best = Some((zmin & !below) | mask);
                zmax = (zmax & !mask) | below;
            }
            (false, true, true) => return Some(zmin),
            (true, false, false) => return best,
            (true, false, true) => zmin = (zmin & !below) | mask,
            // (false, false, false) and (true, true, true): all three agree, go on.
            // (_, true, false) cannot happen while zmin <= zmax on every axis.
            _ => {}
        }
    }
    best
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
            assert!(CellBox::of_query(level, &q).contains(unmorton(cell)));
        }
    }

    fn naive_spread(v: u64) -> u128 {
        (0..CELL_BITS).fold(0u128, |out, bit| {
            out | (u128::from((v >> bit) & 1) << (3 * bit))
        })
    }

    #[test]
    fn table_spread_equals_the_bit_loop_and_unmorton_inverts_it() {
        for v in [0, 1, 0xFF, 0x1234_5678_9ABC, (1 << CELL_BITS) - 1, u64::MAX] {
            let v = v & ((1 << CELL_BITS) - 1);
            assert_eq!(spread(v), naive_spread(v));
            assert_eq!(
                unmorton(morton(v, v ^ 0x2AA, v >> 3)),
                [v, v ^ 0x2AA, v >> 3]
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A part overlapping a query box lies in a cell of the box's `CellBox` at its level.
        #[test]
        fn cell_box_holds_every_part_overlapping_the_query(
            part_min in proptest::array::uniform3(-40.0f64..40.0),
            part_size in proptest::array::uniform3(0.0f64..6.0),
            query_min in proptest::array::uniform3(-40.0f64..40.0),
            query_size in proptest::array::uniform3(0.0f64..30.0),
        ) {
            let part = Aabb {
                min: part_min,
                max: [0, 1, 2].map(|a| part_min[a] + part_size[a]),
            };
            let query = Aabb {
                min: query_min,
                max: [0, 1, 2].map(|a| query_min[a] + query_size[a]),
            };
            let (level, cell) = place(&part);
            if part.overlaps(&query) {
                proptest::prop_assert!(CellBox::of_query(level, &query).contains(unmorton(cell)));
            }
        }

        /// `next_in_box` equals the brute-force smallest code above `code` inside the box.
        #[test]
        fn next_in_box_equals_brute_force(
            lo in proptest::array::uniform3(0u64..12),
            size in proptest::array::uniform3(0u64..6),
            probe in proptest::array::uniform3(0u64..20),
        ) {
            let hi = [0, 1, 2].map(|a| lo[a] + size[a]);
            let cells = CellBox { lo, hi };
            let code = morton(probe[0], probe[1], probe[2]);
            let (zmin, zmax) = cells.code_bounds();
            proptest::prop_assert_eq!(code_in_box(code, zmin, zmax), cells.contains(probe));
            proptest::prop_assume!(!cells.contains(probe));
            let mut want = None;
            for x in lo[0]..=hi[0] {
                for y in lo[1]..=hi[1] {
                    for z in lo[2]..=hi[2] {
                        let c = morton(x, y, z);
                        if c > code && want.is_none_or(|w| c < w) {
                            want = Some(c);
                        }
                    }
                }
            }
            proptest::prop_assert_eq!(next_in_box(code, zmin, zmax), want);
            proptest::prop_assert_eq!(code_in_box(code, zmin, zmax), cells.contains(probe));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// A block `block_beyond` skips holds no cell that may hold a part within the distance.
        #[test]
        fn skipped_blocks_hold_nothing_within_the_distance(
            center in proptest::array::uniform3(-30.0f64..30.0),
            r in 0.0f64..12.0,
            probe in proptest::array::uniform3(-40i64..40),
        ) {
            let level = LEVEL_BIAS as u8 + 1; // cells of edge 2
            let around = Aabb::of_point(center);
            let cell = probe.map(|c| (c + HALF) as u64);
            let code = morton(cell[0], cell[1], cell[2]);
            if let Some((lo, hi)) = block_beyond(level, code, &around, r, 8) {
                proptest::prop_assert!(lo <= code && code <= hi);
                // Every cell of the block: sample its corners and a few inside.
                let lo_cell = unmorton(lo);
                let hi_cell = unmorton(hi);
                for x in [lo_cell[0], (lo_cell[0] + hi_cell[0]) / 2, hi_cell[0]] {
                    for y in [lo_cell[1], (lo_cell[1] + hi_cell[1]) / 2, hi_cell[1]] {
                        for z in [lo_cell[2], (lo_cell[2] + hi_cell[2]) / 2, hi_cell[2]] {
                            let c = morton(x, y, z);
                            proptest::prop_assert!(lo <= c && c <= hi);
                            proptest::prop_assert!(
                                block_region(level, 0, [x, y, z]).distance(&around) > r
                            );
                        }
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
        let cells = CellBox::of_query(10, &whole);
        assert!(cells.contains([0; 3]) && cells.contains([(1 << CELL_BITS) - 1; 3]));
    }
}
