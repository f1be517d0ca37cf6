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
/// Most key ranges a query reads per level: more ranges are merged into coarser aligned
/// blocks. Each range costs one B-tree descent (about a microsecond); at 64 the blocks stay
/// within about twice the query's size per axis. Measured against 8 (fewer descents, but
/// blocks up to four times the query per axis): 64 was faster on `cairn bench geo`'s larger
/// queries and k-NN rounds, and no slower on small ones.
pub const MAX_RANGES_PER_LEVEL: u64 = 64;

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

/// Spreads the low [`CELL_BITS`] bits of `v` to every third bit.
fn spread(v: u64) -> u128 {
    let mut out = 0u128;
    for bit in 0..CELL_BITS {
        out |= u128::from((v >> bit) & 1) << (3 * bit);
    }
    out
}

/// Interleaves three cell coordinates (x lowest).
pub fn morton(x: u64, y: u64, z: u64) -> u128 {
    spread(x) | (spread(y) << 1) | (spread(z) << 2)
}

/// The Morton ranges (inclusive) of level `level` that may hold parts overlapping `query`,
/// sorted and merged.
pub fn ranges(level: u8, query: &Aabb) -> Vec<(u128, u128)> {
    let edge = cell_edge(level);
    let top = (1u64 << CELL_BITS) - 1;
    let axis = |a: usize| -> (u64, u64) {
        let clamp = |c: f64| -> u64 {
            let c = c.clamp(-(HALF as f64), (HALF - 1) as f64);
            (c as i64 + HALF) as u64
        };
        // One cell lower: a part whose lowest corner is there may reach into the query.
        let lo = clamp((query.min[a] / edge).floor() - 1.0);
        let hi = clamp((query.max[a] / edge).floor());
        (lo, hi.min(top))
    };
    let (x, y, z) = (axis(0), axis(1), axis(2));
    let mut shift = 0;
    let blocks = |(lo, hi): (u64, u64), k: u32| (hi >> k) - (lo >> k) + 1;
    while shift < CELL_BITS
        && blocks(x, shift)
            .saturating_mul(blocks(y, shift))
            .saturating_mul(blocks(z, shift))
            > MAX_RANGES_PER_LEVEL
    {
        shift += 1;
    }
    let mut out = Vec::new();
    for bz in (z.0 >> shift)..=(z.1 >> shift) {
        for by in (y.0 >> shift)..=(y.1 >> shift) {
            for bx in (x.0 >> shift)..=(x.1 >> shift) {
                let low = morton(bx << shift, by << shift, bz << shift);
                let span = (1u128 << (3 * shift)) - 1;
                out.push((low, low + span));
            }
        }
    }
    out.sort_unstable();
    let mut merged: Vec<(u128, u128)> = Vec::with_capacity(out.len());
    for (lo, hi) in out {
        match merged.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(lo) => last.1 = hi,
            _ => merged.push((lo, hi)),
        }
    }
    merged
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
