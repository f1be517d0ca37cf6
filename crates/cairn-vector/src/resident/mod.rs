//! Resident images: a read-only copy in memory of one index content (one stamp), so that
//! read-only searches walk the graph without a B-tree descent and a record decode per node.
//!
//! **What.** An image numbers the nodes in key order (so comparing numbers compares keys, and
//! ties break exactly as on the tables), keeps the vectors in one flat array, layer-0
//! neighbour lists in one flat array with offsets, and upper layers per node; links to nodes
//! that do not exist (dangling after a delete, see `hnsw/mod.rs`) are dropped at load, as a
//! search over the tables skips them. The walk (`search.rs`) is the same algorithm as
//! `hnsw::layer::search_layer` over the same graph, so it returns the same nodes; every
//! result is still rechecked against its document in the query's snapshot.
//!
//! **When** (`cache.rs`). Only read-only snapshots that see no pending writes of their own
//! use images (`!records_reads()` and `is_read_only()`), and only for the stamp they read:
//! every commit that changes the graph writes a new stamp (`stamp.rs`), so an image never
//! answers for a content it was not loaded from. A stamp that has served
//! [`RESIDENT_AFTER_SEARCHES`] searches is loaded on a background thread from a fork of the
//! triggering snapshot (`Transaction::fork_background`; the load stops if the database
//! closes); until it is there, and for every other transaction, searches read the tables.
//! [`make_resident`] loads one at once (a warm-up, like `pg_prewarm`). Opening a database
//! loads nothing, so a cold open answers its first query from the tables.
//!
//! **Limits.** At most [`MAX_RESIDENT_IMAGES`] images (oldest dropped), none over
//! [`MAX_RESIDENT_BYTES`]. Under a steady stream of writes every commit makes a new stamp,
//! so searches go back to the tables until writes pause and the count builds up again.
//!
//! [`RESIDENT_AFTER_SEARCHES`]: crate::limits::RESIDENT_AFTER_SEARCHES
//! [`MAX_RESIDENT_IMAGES`]: crate::limits::MAX_RESIDENT_IMAGES
//! [`MAX_RESIDENT_BYTES`]: crate::limits::MAX_RESIDENT_BYTES

mod cache;
mod load;
mod search;

pub(crate) use cache::image_for;
pub use cache::make_resident;
pub(crate) use search::search_image;

use crate::metric::Metric;

/// One index content, in memory, read-only.
pub(crate) struct Image {
    pub(crate) dims: usize,
    pub(crate) metric: Metric,
    /// Node `i`'s document key; nodes are numbered in key order.
    pub(crate) keys: Vec<Box<[u8]>>,
    /// Node `i`'s vector is `vectors[i * dims..(i + 1) * dims]`.
    pub(crate) vectors: Vec<f32>,
    /// Node `i`'s layer-0 neighbours are `l0[l0_start[i]..l0_start[i + 1]]`.
    pub(crate) l0_start: Vec<u32>,
    pub(crate) l0: Vec<u32>,
    /// Node `i`'s neighbours on layers `1..=level`, `upper[i][layer - 1]` (empty for most).
    pub(crate) upper: Vec<Vec<Vec<u32>>>,
    /// The entry point and its level.
    pub(crate) entry: Option<(u32, u8)>,
    /// Approximate bytes held.
    pub(crate) bytes: usize,
}

impl Image {
    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The number of the node of document key `key`, if the image has one (numbers follow
    /// key order).
    pub(crate) fn find(&self, key: &[u8]) -> Option<u32> {
        self.keys
            .binary_search_by(|k| k.as_ref().cmp(key))
            .ok()
            .map(|i| i as u32)
    }

    /// Node `i`'s vector.
    pub(crate) fn vector(&self, i: u32) -> &[f32] {
        let at = i as usize * self.dims;
        &self.vectors[at..at + self.dims]
    }

    /// Node `i`'s neighbours on `layer`.
    pub(crate) fn neighbours(&self, i: u32, layer: usize) -> &[u32] {
        if layer == 0 {
            let (from, to) = (
                self.l0_start[i as usize] as usize,
                self.l0_start[i as usize + 1] as usize,
            );
            &self.l0[from..to]
        } else {
            self.upper[i as usize]
                .get(layer - 1)
                .map_or(&[][..], Vec::as_slice)
        }
    }
}
