//! Bit-level writer and reader, LEB128 varints and zigzag: the primitives every codec uses.
//!
//! Readers never panic on short or damaged input: every read returns [`TsError::Corrupt`]
//! when the bytes run out, so a damaged chunk is reported, not trusted.

use crate::error::{Result, TsError};

/// Maps a signed value to an unsigned one so small magnitudes of either sign get few bits.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` as an LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over bytes that reads varints and raw slices, failing cleanly at the end.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteReader { bytes, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte was consumed.
    pub fn is_at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// Reads one LEB128 varint (at most 10 bytes).
    pub fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            let part = u64::from(byte & 0x7f);
            if i == 9 && part > 1 {
                return Err(TsError::corrupt("varint overflows 64 bits"));
            }
            v |= part << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(TsError::corrupt("varint longer than 10 bytes"))
    }

    /// Reads a varint that must fit `usize` and be at most `limit` (a length or count).
    pub fn length(&mut self, limit: usize) -> Result<usize> {
        let v = self.varint()?;
        if v > limit as u64 {
            return Err(TsError::corrupt(format!(
                "length {v} exceeds {limit} in stored data"
            )));
        }
        Ok(v as usize)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        let byte = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| TsError::corrupt("data ends early"))?;
        self.pos += 1;
        Ok(byte)
    }

    /// Reads `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| TsError::corrupt("data ends early"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// Reads 8 bytes little-endian.
    pub fn u64_le(&mut self) -> Result<u64> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    /// Reads a varint-length-prefixed slice of at most `limit` bytes.
    pub fn sized(&mut self, limit: usize) -> Result<&'a [u8]> {
        let n = self.length(limit)?;
        self.take(n)
    }
}

/// Appends bits most-significant first into bytes.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 means the last byte is full or there is none).
    used: u32,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        BitWriter::default()
    }

    /// Writes the low `n` bits of `value` (n ≤ 64).
    pub fn write(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut remaining = n;
        while remaining > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(remaining);
            let shift = remaining - take;
            let chunk = ((value >> shift) & ((1u64 << take) - 1)) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= chunk << (free - take);
            self.used = (self.used + take) % 8;
            remaining -= take;
        }
    }

    /// Writes one bit.
    pub fn bit(&mut self, bit: bool) {
        self.write(u64::from(bit), 1);
    }

    /// The written bytes (the last one zero-padded).
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads bits written by [`BitWriter`].
#[derive(Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    bit_pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, bit_pos: 0 }
    }

    /// Reads `n` bits (n ≤ 64) as the low bits of the result.
    pub fn read(&mut self, n: u32) -> Result<u64> {
        debug_assert!(n <= 64);
        if self.bit_pos + n as usize > self.bytes.len() * 8 {
            return Err(TsError::corrupt("bit stream ends early"));
        }
        let mut value: u64 = 0;
        let mut remaining = n;
        while remaining > 0 {
            let byte = self.bytes[self.bit_pos / 8];
            let offset = (self.bit_pos % 8) as u32;
            let avail = 8 - offset;
            let take = avail.min(remaining);
            let bits = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            value = (value << take) | u64::from(bits);
            self.bit_pos += take as usize;
            remaining -= take;
        }
        Ok(value)
    }

    /// Reads one bit.
    pub fn bit(&mut self) -> Result<bool> {
        Ok(self.read(1)? == 1)
    }
}

/// Bits needed to write `v` (0 for 0).
pub fn bit_width(v: u64) -> u32 {
    64 - v.leading_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bits_round_trip(values in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::new();
            for (v, n) in &values {
                w.write(*v, *n);
            }
            let bytes = w.finish();
            let mut r = BitReader::new(&bytes);
            for (v, n) in &values {
                let mask = if *n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read(*n).unwrap(), v & mask);
            }
        }

        #[test]
        fn varint_and_zigzag_round_trip(v in any::<i64>()) {
            let mut out = Vec::new();
            put_varint(&mut out, zigzag(v));
            let mut r = ByteReader::new(&out);
            prop_assert_eq!(unzigzag(r.varint().unwrap()), v);
            prop_assert!(r.is_at_end());
        }
    }
}
