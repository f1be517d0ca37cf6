//! One entry of a resident image as it lies in memory: its box, its document key and its part
//! side by side in two cache lines.
//!
//! A search that finds a leaf reads, for the first entry of each run it meets, the box (the
//! test), the key (the visitor's document) and the part (the exact test). Kept in separate
//! arrays those are three or four cache misses per run, and on a query over a 100 MiB image
//! the misses are most of the time; side by side they are two adjacent lines, which the
//! processor fetches together.

use crate::primitive::Primitive;

/// Key bytes an entry holds itself: an integer `_id`'s key (9 bytes) and most string ones
/// fit. A longer key lives in the image's overflow buffer.
pub(super) const INLINE_KEY: usize = 20;

/// An entry: 128 bytes, aligned to a cache line, so it spans exactly two.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// The part's box, rounded outward to `f32`.
    pub(super) bbox: [f32; 6],
    /// The key's length.
    key_len: u32,
    /// The key when at most [`INLINE_KEY`] bytes; else its offset in the overflow buffer
    /// (the first 8 bytes, little-endian).
    key: [u8; INLINE_KEY],
    /// The part.
    pub(super) part: Primitive,
}

// Two cache lines: a `Primitive` that grows would silently cost a third.
const _: () = assert!(std::mem::size_of::<Entry>() == 128);

impl Entry {
    /// An entry of `part` (box `bbox`) of the document `key`, storing a long key at the end
    /// of `overflow`. Keys are short enough for `u32` lengths: the builder bounds their total.
    pub(super) fn new(
        bbox: [f32; 6],
        part: Primitive,
        key: &[u8],
        overflow: &mut Vec<u8>,
    ) -> Entry {
        let mut slot = [0u8; INLINE_KEY];
        if key.len() <= INLINE_KEY {
            slot[..key.len()].copy_from_slice(key);
        } else {
            slot[..8].copy_from_slice(&(overflow.len() as u64).to_le_bytes());
            overflow.extend_from_slice(key);
        }
        Entry {
            bbox,
            key_len: key.len() as u32,
            key: slot,
            part,
        }
    }

    /// The document key (`overflow`: the image's buffer of long keys).
    pub(super) fn key<'a>(&'a self, overflow: &'a [u8]) -> &'a [u8] {
        let len = self.key_len as usize;
        if len <= INLINE_KEY {
            return &self.key[..len];
        }
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&self.key[..8]);
        let start = u64::from_le_bytes(offset) as usize;
        let key = overflow.get(start..start + len);
        debug_assert!(key.is_some(), "a long key beyond the overflow buffer");
        key.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_keys_read_back() {
        let mut overflow = Vec::new();
        let part = Primitive::Point([1.0, 2.0, 3.0]);
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            b"k".to_vec(),
            vec![7; INLINE_KEY],
            vec![8; INLINE_KEY + 1],
            (0..200).map(|i| i as u8).collect(),
        ];
        let entries: Vec<Entry> = keys
            .iter()
            .map(|k| Entry::new([0.0; 6], part, k, &mut overflow))
            .collect();
        for (entry, key) in entries.iter().zip(&keys) {
            assert_eq!(entry.key(&overflow), key.as_slice());
        }
        assert_eq!(overflow.len(), INLINE_KEY + 1 + 200);
    }
}
