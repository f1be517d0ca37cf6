//! Booleans: one bit each.

use super::bits::{BitReader, BitWriter};
use crate::error::Result;

/// Encodes `values`, one bit each.
pub fn encode(values: &[bool], out: &mut Vec<u8>) {
    let mut bits = BitWriter::new();
    for v in values {
        bits.bit(*v);
    }
    out.extend_from_slice(&bits.finish());
}

/// Decodes `count` booleans written by [`encode`].
pub fn decode(bytes: &[u8], count: usize) -> Result<Vec<bool>> {
    let mut bits = BitReader::new(bytes);
    (0..count).map(|_| bits.bit()).collect()
}
