//! Strings: a per-chunk dictionary of distinct values (in first-seen order), then each
//! value's dictionary index bit-packed at the smallest width that holds the largest index.
//! Log levels and process states repeat a handful of values, so a point costs a few bits.

use std::collections::HashMap;

use super::bits::{bit_width, put_varint, BitReader, BitWriter, ByteReader};
use crate::error::{Result, TsError};
use crate::limits::{MAX_POINTS_PER_CHUNK, MAX_STRING_BYTES};

/// Encodes `values`.
pub fn encode(values: &[String], out: &mut Vec<u8>) {
    let mut dict: HashMap<&str, u64> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    let indexes: Vec<u64> = values
        .iter()
        .map(|v| {
            *dict.entry(v.as_str()).or_insert_with(|| {
                order.push(v.as_str());
                order.len() as u64 - 1
            })
        })
        .collect();
    put_varint(out, order.len() as u64);
    for entry in &order {
        put_varint(out, entry.len() as u64);
        out.extend_from_slice(entry.as_bytes());
    }
    let width = bit_width(order.len().saturating_sub(1) as u64);
    let mut bits = BitWriter::new();
    for i in indexes {
        bits.write(i, width);
    }
    out.extend_from_slice(&bits.finish());
}

/// Decodes `count` strings written by [`encode`].
pub fn decode(bytes: &[u8], count: usize) -> Result<Vec<String>> {
    let mut reader = ByteReader::new(bytes);
    let entries = reader.length(MAX_POINTS_PER_CHUNK)?;
    let mut dict = Vec::with_capacity(entries);
    for _ in 0..entries {
        let raw = reader.sized(MAX_STRING_BYTES)?;
        let text = std::str::from_utf8(raw)
            .map_err(|_| TsError::corrupt("dictionary entry is not UTF-8"))?;
        dict.push(text.to_string());
    }
    let width = bit_width(entries.saturating_sub(1) as u64);
    let rest = reader.take(bytes.len() - reader.position())?;
    let mut bits = BitReader::new(rest);
    (0..count)
        .map(|_| {
            let i = bits.read(width)? as usize;
            dict.get(i)
                .cloned()
                .ok_or_else(|| TsError::corrupt("dictionary index out of range"))
        })
        .collect()
}
