//! Timestamps: delta-of-delta with variable-width bit buckets (Gorilla, section 4.1.1).
//!
//! Regular sampling makes every delta-of-delta zero, which costs one bit per point. All
//! arithmetic wraps, so any `i64` sequence (decreasing, equal, extremes) round-trips: the
//! decoder undoes exactly the wrapping the encoder did.
//!
//! A leading tag byte marks the common case of perfectly regular sampling
//! ([`TAG_REGULAR`]: first time and the one delta, nothing per point) apart from the general
//! delta-of-delta stream ([`TAG_DOD`]).

use super::bits::{put_varint, unzigzag, zigzag, BitReader, BitWriter, ByteReader};
use crate::error::{Result, TsError};

/// Bucket payload widths after the prefixes `10`, `110`, `1110`; `1111` carries 64 bits.
const BUCKETS: [u32; 3] = [7, 12, 20];

/// Tag of a delta-of-delta stream.
pub const TAG_DOD: u8 = 0;
/// Tag of a constant-delta sequence.
pub const TAG_REGULAR: u8 = 1;

/// Encodes `times` (any order, any values).
pub fn encode(times: &[i64], out: &mut Vec<u8>) {
    let Some((&first, rest)) = times.split_first() else {
        return;
    };
    let regular = times.len() > 2
        && times
            .windows(2)
            .all(|w| w[1].wrapping_sub(w[0]) == times[1].wrapping_sub(times[0]));
    if regular {
        out.push(TAG_REGULAR);
        put_varint(out, zigzag(first));
        put_varint(out, zigzag(times[1].wrapping_sub(first)));
        return;
    }
    out.push(TAG_DOD);
    put_varint(out, zigzag(first));
    let Some((&second, rest)) = rest.split_first() else {
        return;
    };
    let mut delta = second.wrapping_sub(first);
    put_varint(out, zigzag(delta));
    let mut prev = second;
    let mut bits = BitWriter::new();
    for &t in rest {
        let d = t.wrapping_sub(prev);
        let dod = zigzag(d.wrapping_sub(delta));
        write_bucketed(&mut bits, dod);
        delta = d;
        prev = t;
    }
    out.extend_from_slice(&bits.finish());
}

/// Writes `v` with the shortest bucket that holds it.
fn write_bucketed(bits: &mut BitWriter, v: u64) {
    if v == 0 {
        bits.bit(false);
        return;
    }
    for (i, width) in BUCKETS.iter().enumerate() {
        if v < (1u64 << width) {
            // Prefix: i+1 ones then a zero.
            bits.write((1u64 << (i + 2)) - 2, i as u32 + 2);
            bits.write(v, *width);
            return;
        }
    }
    bits.write(0b1111, 4);
    bits.write(v, 64);
}

fn read_bucketed(bits: &mut BitReader<'_>) -> Result<u64> {
    if !bits.bit()? {
        return Ok(0);
    }
    for width in BUCKETS {
        if !bits.bit()? {
            return bits.read(width);
        }
    }
    bits.read(64)
}

/// Decodes `count` timestamps written by [`encode`].
pub fn decode(bytes: &[u8], count: usize) -> Result<Vec<i64>> {
    let mut times = Vec::with_capacity(count);
    if count == 0 {
        return Ok(times);
    }
    let mut reader = ByteReader::new(bytes);
    let tag = reader.u8()?;
    let first = unzigzag(reader.varint()?);
    times.push(first);
    if count == 1 {
        return Ok(times);
    }
    let mut delta = unzigzag(reader.varint()?);
    match tag {
        TAG_DOD => {}
        TAG_REGULAR => {
            let mut t = first;
            for _ in 1..count {
                t = t.wrapping_add(delta);
                times.push(t);
            }
            return Ok(times);
        }
        tag => {
            return Err(TsError::corrupt(format!(
                "unknown timestamp codec tag {tag}"
            )))
        }
    }
    let mut prev = first.wrapping_add(delta);
    times.push(prev);
    let rest = reader.take(bytes.len() - reader.position())?;
    let mut bits = BitReader::new(rest);
    for _ in 2..count {
        let dod = unzigzag(read_bucketed(&mut bits)?);
        delta = delta.wrapping_add(dod);
        prev = prev.wrapping_add(delta);
        times.push(prev);
    }
    Ok(times)
}
