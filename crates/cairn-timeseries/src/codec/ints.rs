//! Integers: deltas (wrapping), then per block of [`BLOCK`] deltas a frame of reference (the
//! block's minimum delta) and the offsets from it bit-packed at the block's width.
//!
//! A counter's deltas are small and non-negative, a gauge of integers wanders around zero;
//! subtracting the block minimum serves both without zigzag's lost bit. All arithmetic wraps,
//! so `i64::MIN`/`i64::MAX` neighbours round-trip.

use super::bits::{bit_width, put_varint, unzigzag, zigzag, BitReader, BitWriter, ByteReader};
use crate::error::{Result, TsError};

/// Deltas per bit-packed block: small enough that one outlier widens few values.
const BLOCK: usize = 64;

/// Encodes `values`.
pub fn encode(values: &[i64], out: &mut Vec<u8>) {
    let Some((&first, _)) = values.split_first() else {
        return;
    };
    put_varint(out, zigzag(first));
    let deltas: Vec<i64> = values.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    for block in deltas.chunks(BLOCK) {
        let min = block.iter().copied().min().unwrap_or(0);
        let width = block
            .iter()
            .map(|d| bit_width(d.wrapping_sub(min) as u64))
            .max()
            .unwrap_or(0);
        put_varint(out, zigzag(min));
        out.push(width as u8);
        if width > 0 {
            let mut bits = BitWriter::new();
            for d in block {
                bits.write(d.wrapping_sub(min) as u64, width);
            }
            out.extend_from_slice(&bits.finish());
        }
    }
}

/// Decodes `count` integers written by [`encode`].
pub fn decode(bytes: &[u8], count: usize) -> Result<Vec<i64>> {
    let mut values = Vec::with_capacity(count);
    if count == 0 {
        return Ok(values);
    }
    let mut reader = ByteReader::new(bytes);
    let mut prev = unzigzag(reader.varint()?);
    values.push(prev);
    let mut remaining = count - 1;
    while remaining > 0 {
        let n = remaining.min(BLOCK);
        let min = unzigzag(reader.varint()?);
        let width = u32::from(reader.u8()?);
        if width > 64 {
            return Err(TsError::corrupt(format!("bit width {width} > 64")));
        }
        if width == 0 {
            for _ in 0..n {
                prev = prev.wrapping_add(min);
                values.push(prev);
            }
        } else {
            let packed_bytes = (n * width as usize).div_ceil(8);
            let mut bits = BitReader::new(reader.take(packed_bytes)?);
            for _ in 0..n {
                prev = prev.wrapping_add(min.wrapping_add(bits.read(width)? as i64));
                values.push(prev);
            }
        }
        remaining -= n;
    }
    if !reader.is_at_end() {
        return Err(TsError::corrupt("trailing bytes after integers"));
    }
    Ok(values)
}
