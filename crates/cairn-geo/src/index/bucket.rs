//! Buckets: aligned blocks of `2^shift` cells per axis at one level, the unit the bucket
//! cache (`cache.rs`) loads and keeps.
//!
//! Morton order keeps aligned blocks contiguous: the cells of the block with block
//! coordinates `b` are exactly the codes `morton(b) << 3·shift .. (morton(b) + 1) << 3·shift`,
//! so a bucket is one key range of the entries table (`level ‖ first code` up to, excluded,
//! `level ‖ past code`).
//!
//! The shift is chosen per level and index content ([`shift_for`]) from a sample of the
//! level's entries, so a bucket holds about [`TARGET_BUCKET_ENTRIES`] entries whatever the
//! level's cell size and density: a fixed shift made sparse levels (a cloud of points sits
//! at a level of nanometre cells) into millions of empty buckets, dense ones into long scans.

use crate::index::grid::{morton, CellBox, CELL_BITS};
pub use crate::index::limits::{MAX_BUCKET_SHIFT, MIN_BUCKET_SHIFT};

/// Entries a bucket should hold: enough that the per-bucket cost (a lookup) is small against
/// scanning its entries, few enough that a small query decodes and scans little beyond its
/// box. Measured at full scale (`cairn bench geo --repeat 2`): 16 beat 8 and 32 (a shift step
/// changes a bucket's volume 8×, so buckets hold between about a third and three times this).
pub const TARGET_BUCKET_ENTRIES: f64 = 16.0;

/// Entries of a level read to estimate its density (one bounded read per level, once per
/// index content).
pub const SHIFT_SAMPLE_ENTRIES: u32 = 64;

/// How a level is cut into buckets for one index content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelLayout {
    /// The grid level.
    pub level: u8,
    /// Cells per bucket edge, as a power of two.
    pub shift: u32,
    /// Distinct documents per unit volume among the level's sampled entries: a density
    /// known without reading anything more (a nearest-neighbour search's first radius when
    /// the buckets around its shape are not decoded).
    pub sample_docs_per_volume: f64,
}

/// The bucket shift for a level whose first `entries` entries (in key order) lie in cells
/// whose bounding box is `cells` (a box of cell coordinates, not a Morton span: a run of
/// codes that crosses a high Morton bit — say, from negative to positive coordinates — spans
/// a huge code range yet a small region). The level holds about `entries / volume` entries
/// per cell there, so a bucket of `8^shift` cells holds about [`TARGET_BUCKET_ENTRIES`]. A
/// level of one entry is one bucket.
pub fn shift_for(entries: u32, cells: &CellBox) -> u32 {
    if entries < 2 {
        return MAX_BUCKET_SHIFT;
    }
    let volume: f64 = (0..3)
        .map(|a| (cells.hi[a] - cells.lo[a]) as f64 + 1.0)
        .product();
    let per_cell = f64::from(entries) / volume;
    let shift = ((TARGET_BUCKET_ENTRIES / per_cell).log2() / 3.0).round();
    shift.clamp(f64::from(MIN_BUCKET_SHIFT), f64::from(MAX_BUCKET_SHIFT)) as u32
}

/// The buckets holding the cells of a [`CellBox`], as inclusive bucket coordinates per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketBox {
    /// Lowest bucket per axis.
    pub lo: [u64; 3],
    /// Highest bucket per axis.
    pub hi: [u64; 3],
}

impl BucketBox {
    /// The buckets (of `2^shift` cells per axis) that hold some cell of `cells`.
    pub fn of_cells(cells: &CellBox, shift: u32) -> BucketBox {
        BucketBox {
            lo: cells.lo.map(|c| c >> shift),
            hi: cells.hi.map(|c| c >> shift),
        }
    }

    /// How many buckets the box holds.
    pub fn count(&self) -> u128 {
        (0..3).fold(1u128, |n, a| {
            n.saturating_mul(u128::from(self.hi[a] - self.lo[a]) + 1)
        })
    }

    /// Every bucket of the box, as block coordinates.
    pub fn iter(&self) -> impl Iterator<Item = [u64; 3]> + '_ {
        (self.lo[2]..=self.hi[2]).flat_map(move |z| {
            (self.lo[1]..=self.hi[1])
                .flat_map(move |y| (self.lo[0]..=self.hi[0]).map(move |x| [x, y, z]))
        })
    }
}

/// The Morton code of a bucket (its block coordinates interleaved). Equals the code of any
/// of its cells shifted right by `3·shift`.
pub fn bucket_code(block: [u64; 3]) -> u128 {
    morton(block[0], block[1], block[2])
}

/// The cell codes of a bucket: `[first, past)`. `past` is at most `2^(3·CELL_BITS)`, which
/// fits a `u128`.
pub fn code_range(bucket: u128, shift: u32) -> (u128, u128) {
    debug_assert!(shift <= CELL_BITS);
    (bucket << (3 * shift), (bucket + 1) << (3 * shift))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::grid::unmorton;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A cell's code lies in a bucket's range exactly when the cell lies in that block,
        /// and the buckets of a cell box hold every cell of it (checked cell by cell).
        #[test]
        fn bucket_ranges_hold_exactly_their_cells(
            lo in proptest::array::uniform3(0u64..40),
            size in proptest::array::uniform3(0u64..12),
            shift in 0u32..4,
            probe in proptest::array::uniform3(0u64..60),
            block in proptest::array::uniform3(0u64..8),
        ) {
            let hi = [0, 1, 2].map(|a| lo[a] + size[a]);
            let cells = CellBox { lo, hi };
            let buckets = BucketBox::of_cells(&cells, shift);
            let listed: Vec<[u64; 3]> = buckets.iter().collect();
            proptest::prop_assert_eq!(listed.len() as u128, buckets.count());
            // Membership of one probe cell in one block: by coordinates and by code range.
            let code = morton(probe[0], probe[1], probe[2]);
            let (first, past) = code_range(bucket_code(block), shift);
            let in_block = (0..3).all(|a| probe[a] >> shift == block[a]);
            proptest::prop_assert_eq!(first <= code && code < past, in_block);
            proptest::prop_assert_eq!(unmorton(code).map(|c| c >> shift), unmorton(code >> (3 * shift)));
            // Every cell of the box lies in a listed bucket's range; no listed bucket is empty
            // of box cells.
            let mut used = vec![false; listed.len()];
            for x in lo[0]..=hi[0] {
                for y in lo[1]..=hi[1] {
                    for z in lo[2]..=hi[2] {
                        let c = morton(x, y, z);
                        let at = listed.iter().position(|&b| {
                            let (f, p) = code_range(bucket_code(b), shift);
                            f <= c && c < p
                        });
                        proptest::prop_assert!(at.is_some(), "cell {:?} in no bucket", [x, y, z]);
                        if let Some(i) = at {
                            used[i] = true;
                        }
                    }
                }
            }
            proptest::prop_assert!(used.iter().all(|&u| u));
        }
    }

    #[test]
    fn the_last_bucket_of_the_code_space_ends_inside_a_u128() {
        let top = (1u64 << CELL_BITS) - 1;
        for shift in [MIN_BUCKET_SHIFT, 3, MAX_BUCKET_SHIFT] {
            let last = bucket_code([top >> shift; 3]);
            let (first, past) = code_range(last, shift);
            assert_eq!(past, 1u128 << (3 * CELL_BITS));
            assert!(first < past);
        }
    }

    #[test]
    fn the_shift_puts_about_the_target_entries_in_a_bucket() {
        let cells = |lo: u64, size: [u64; 3]| CellBox {
            lo: [lo; 3],
            hi: size.map(|s| lo + s - 1),
        };
        // 64 entries in 32 x 32 x 32 cells: one per 512 cells, so a bucket of 8^4 cells
        // (shift 4) holds 8 and one of 8^5 cells 64; the target lies between.
        let shift = shift_for(64, &cells(7, [32, 32, 32]));
        assert!((4..=5).contains(&shift), "{shift}");
        // Where the coordinates change sign the Morton codes jump; the cell box does not.
        let half = 1u64 << (CELL_BITS - 1);
        assert_eq!(shift_for(64, &cells(half - 1, [2, 2, 2])), MIN_BUCKET_SHIFT);
        assert_eq!(shift_for(1, &cells(5, [1, 1, 1])), MAX_BUCKET_SHIFT);
        let all = 1u64 << CELL_BITS;
        assert_eq!(shift_for(2, &cells(0, [all, all, all])), MAX_BUCKET_SHIFT);
    }
}
