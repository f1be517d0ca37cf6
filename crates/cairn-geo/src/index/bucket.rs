//! Buckets: aligned blocks of `2^BUCKET_SHIFT` cells per axis at one level, the unit the
//! bucket cache (`cache.rs`) loads and keeps.
//!
//! Morton order keeps aligned blocks contiguous: the cells of the block with block
//! coordinates `b` are exactly the codes `morton(b) << 3·shift .. (morton(b) + 1) << 3·shift`,
//! so a bucket is one key range of the entries table (`level ‖ first code` up to, excluded,
//! `level ‖ past code`), read with one bounded range read.

use crate::index::grid::{morton, CellBox, CELL_BITS};

/// Cells per bucket edge, as a power of two (8 cells: at the benchmark's density about 30
/// triangles per bucket, so a radius-10 query touches a handful of buckets and each bucket's
/// entries are mostly near it). Chosen by measurement (`cairn bench geo`).
pub const BUCKET_SHIFT: u32 = 3;

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
        let last = bucket_code([top >> BUCKET_SHIFT; 3]);
        let (first, past) = code_range(last, BUCKET_SHIFT);
        assert_eq!(past, 1u128 << (3 * CELL_BITS));
        assert!(first < past);
    }
}
