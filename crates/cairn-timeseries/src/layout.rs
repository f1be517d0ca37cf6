//! How a time-series collection is laid out in its extension's tables.
//!
//! * `series`: `k` + encoded series key → series id (`u32` BE); `i` + id → encoded key;
//!   `n` → the next id. Ids keep chunk keys short and fixed-width whatever the key's size.
//! * `chunks`: id (`u32` BE) + order-preserving `min_time` → chunk bytes (`chunk.rs`).
//!   Chunks of one series never overlap in time and never cross a multiple of the chunk
//!   span, so key order is time order and a span's chunks are one key range.
//! * `last`: id → the series' latest point as a one-point chunk, so "latest point per series"
//!   reads one small record per series instead of the chunks.

use cairn_doc::{decode_document, encode_document, Object, Value};

use crate::error::{Result, TsError};
use crate::limits::MAX_SERIES_KEY_BYTES;

/// Table of series ids.
pub const SERIES_TABLE: &str = "series";
/// Table of chunks.
pub const CHUNKS_TABLE: &str = "chunks";
/// Table of latest points.
pub const LAST_TABLE: &str = "last";

/// Key of the next-id counter in [`SERIES_TABLE`].
pub const NEXT_ID_KEY: &[u8] = b"n";

/// `t` as bytes whose order is the order of the integers.
pub fn ordered(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`ordered`].
pub fn unordered(bytes: &[u8]) -> Result<i64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| TsError::corrupt("time in a key is not 8 bytes"))?;
    Ok((u64::from_be_bytes(array) ^ (1 << 63)) as i64)
}

/// Key of a chunk of series `id` starting at `min_time`.
pub fn chunk_key(id: u32, min_time: i64) -> Vec<u8> {
    let mut key = id.to_be_bytes().to_vec();
    key.extend_from_slice(&ordered(min_time));
    key
}

/// Series id and minimum time of a chunk key.
pub fn parse_chunk_key(key: &[u8]) -> Result<(u32, i64)> {
    if key.len() != 12 {
        return Err(TsError::corrupt("chunk key is not 12 bytes"));
    }
    let id = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    Ok((id, unordered(&key[4..])?))
}

/// The first key after every chunk key of series `id`.
pub fn series_end(id: u32) -> Vec<u8> {
    (u64::from(id) + 1).to_be_bytes()[4..].to_vec()
}

/// The chunk-key range `[start, end)` of series `id` for times in `[from, to)`, where `to`
/// may be one past `i64::MAX`.
pub fn time_range(id: u32, from: i64, to: i128) -> (Vec<u8>, Vec<u8>) {
    let start = chunk_key(id, from);
    let end = if to > i128::from(i64::MAX) {
        series_end(id)
    } else {
        chunk_key(id, to as i64)
    };
    (start, end)
}

/// The span (multiple of `span`) holding `t`, as `[start, end)` with `end` possibly one
/// past `i64::MAX`.
pub fn span_of(t: i64, span: i64) -> (i64, i128) {
    let index = t.div_euclid(span);
    let start = i128::from(index) * i128::from(span);
    let start = start.max(i128::from(i64::MIN)) as i64;
    (start, (i128::from(index) + 1) * i128::from(span))
}

/// Key of a latest-point record.
pub fn last_key(id: u32) -> [u8; 4] {
    id.to_be_bytes()
}

/// The stored form of a series key (the meta field's value), checked against its limit.
pub fn encode_series_key(series: &Value) -> Result<Vec<u8>> {
    let mut wrapper = Object::new();
    wrapper.insert("k", series.clone());
    let mut out = Vec::new();
    encode_document(&Value::Object(wrapper), &mut out).map_err(|e| TsError::InvalidQuery {
        reason: format!("series key is not a storable value: {e}"),
    })?;
    if out.len() > MAX_SERIES_KEY_BYTES {
        return Err(TsError::LimitExceeded {
            what: "bytes of an encoded series key",
            actual: out.len() as u64,
            limit: MAX_SERIES_KEY_BYTES as u64,
        });
    }
    Ok(out)
}

/// Inverse of [`encode_series_key`].
pub fn decode_series_key(bytes: &[u8]) -> Result<Value> {
    let doc = decode_document(bytes).map_err(|e| TsError::corrupt(format!("series key: {e}")))?;
    match doc {
        Value::Object(mut object) => object
            .remove("k")
            .ok_or_else(|| TsError::corrupt("series key record lacks its value")),
        _ => Err(TsError::corrupt("series key record is not an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_extremes() {
        assert_eq!(span_of(i64::MIN, 10).0, i64::MIN);
        assert_eq!(span_of(i64::MAX, 10).1, i128::from(i64::MAX) + 3);
        assert_eq!(span_of(-1, 10), (-10, 0));
        assert_eq!(span_of(10, 10), (10, 20));
    }

    #[test]
    fn ordered_keys_sort_like_times() {
        let times = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for pair in times.windows(2) {
            assert!(ordered(pair[0]) < ordered(pair[1]));
            assert_eq!(unordered(&ordered(pair[0])).unwrap(), pair[0]);
        }
    }
}
