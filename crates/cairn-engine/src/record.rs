//! The stored form of a document: a fixed header, then a checked body.
//!
//! ```text
//! [0..8)  sequence number of the commit that last wrote it (u64 LE) — the document's version
//! [8]     0xC3, the checked envelope (records written before checksums start with the body)
//! [9..13) checksum u32 LE: XXH3-64 of the body seeded with XXH3-64 of the document's key,
//!         folded to 32 bits, XOR a mix of the sequence number
//! [13..)  body: the cairn_doc encoding (version byte first), or its compressed envelope
//!         (see `compression.rs`)
//! ```
//! A record whose change-log record does not carry it (see `changelog.rs`, "elided payloads")
//! has the tag 0xC4 instead and the index of that change-log record inside its commit after the
//! checksum: `[8] 0xC4 ‖ [9..13) checksum ‖ [13..17) change index u32 LE ‖ [17..) body`, the
//! checksum's seed mixing in the index. The change-log record is then `(header seq, index)`.
//! The header has a fixed size so the writer can stamp the sequence number, which is only known
//! at commit, into bytes the transaction encoded earlier; the sequence number enters the
//! checksum by XOR, so stamping it updates the checksum without hashing the body again (the
//! hash runs in the client's thread, not the single writer's).
//!
//! Every decode verifies the checksum: a flipped byte anywhere in the record — sequence number,
//! body, or the key it is stored under — is an [`EngineError::Corruption`] naming the
//! collection and id, never a silently different document. Records without the envelope (older
//! files) are still read, unverified beyond what their encoding checks.

use cairn_doc::{DocId, Value};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::compression::Codecs;
use crate::error::{EngineError, Result};

/// Bytes before the document encoding.
pub const RECORD_HEADER_BYTES: usize = 8;
/// First byte of a checked body: outside the document encodings (< 0x80) and beside the
/// compression tags (0xC1, 0xC2), so records written before checksums stay readable.
const TAG_CHECKED: u8 = 0xC3;
/// The checked envelope: its tag and the 32-bit checksum.
const CHECKED_ENVELOPE_BYTES: usize = 5;
/// First byte of a checked body whose change-log record elides it: the change index follows
/// the checksum.
const TAG_LOGGED: u8 = 0xC4;
/// The logged envelope: tag, checksum and change index.
const LOGGED_ENVELOPE_BYTES: usize = 9;

/// Where a record lives, for verifying it (the key is part of what the checksum covers) and
/// for naming it in an error.
#[derive(Clone, Copy)]
pub(crate) struct RecordAt<'a> {
    /// The collection's name.
    pub(crate) collection: &'a str,
    /// The document's key bytes (`DocId::encode_key`).
    pub(crate) key: &'a [u8],
}

impl RecordAt<'_> {
    /// A corruption error for this record.
    pub(crate) fn corruption(&self, detail: impl std::fmt::Display) -> EngineError {
        let id = match DocId::decode_key(self.key) {
            Ok(id) => id.to_string(),
            Err(_) => format!("key 0x{}", hex(self.key)),
        };
        EngineError::Corruption {
            collection: self.collection.to_string(),
            id,
            detail: detail.to_string(),
        }
    }
}

/// Encodes `doc` as a record of collection `collection_id` (named `collection`, whose
/// compression settings apply) stored under `key`, with a zero sequence number (stamped at
/// commit). `change_index` is the index, inside its commit, of the change-log record that
/// elides this document (`None`: the change log carries it, or no record describes it).
pub(crate) fn encode_record(
    codecs: &Codecs,
    (collection_id, collection): (u32, &str),
    key: &[u8],
    doc: &Value,
    change_index: Option<u32>,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.clear();
    out.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
    match change_index {
        Some(index) => {
            out.push(TAG_LOGGED);
            out.extend_from_slice(&[0u8; 4]);
            out.extend_from_slice(&index.to_le_bytes());
        }
        None => {
            out.push(TAG_CHECKED);
            out.extend_from_slice(&[0u8; 4]);
        }
    }
    // In packed runs the run is compressed as a whole, so each record's body stays plain.
    if codecs.settings(collection).level.is_none() || codecs.packed() {
        cairn_doc::encode_document(doc, out)?;
    } else {
        let mut plain = Vec::new();
        cairn_doc::encode_document(doc, &mut plain)?;
        codecs.encode_body(collection_id, collection, &plain, out)?;
    }
    let body_at = RECORD_HEADER_BYTES
        + match change_index {
            Some(_) => LOGGED_ENVELOPE_BYTES,
            None => CHECKED_ENVELOPE_BYTES,
        };
    let check = body_checksum(key, change_index, &out[body_at..]) ^ seq_mix(0);
    let check_at = RECORD_HEADER_BYTES + 1;
    out[check_at..check_at + 4].copy_from_slice(&check.to_le_bytes());
    Ok(())
}

/// The change-log record `(seq, index)` that elides this record's document, if any: read from
/// the header and the envelope, *unverified* (the caller verifies the record when it decodes
/// it). A record still in its transaction's write buffer has sequence number 0.
pub(crate) fn logged_at(record: &[u8]) -> Option<(u64, u32)> {
    let header = record.get(..RECORD_HEADER_BYTES)?;
    if record.get(RECORD_HEADER_BYTES) != Some(&TAG_LOGGED) {
        return None;
    }
    let at = RECORD_HEADER_BYTES + CHECKED_ENVELOPE_BYTES;
    let index = record.get(at..at + 4)?;
    Some((
        u64::from_le_bytes(header.try_into().ok()?),
        u32::from_le_bytes(index.try_into().ok()?),
    ))
}

/// Writes the committing sequence number into a record's header (and into its checksum).
pub fn stamp_seq(record: &mut [u8], seq: u64) {
    debug_assert!(record.len() > RECORD_HEADER_BYTES, "record without a body");
    let Some((header, body)) = record.split_at_mut_checked(RECORD_HEADER_BYTES) else {
        return;
    };
    let old = u64::from_le_bytes(header.try_into().unwrap_or([0; RECORD_HEADER_BYTES]));
    header.copy_from_slice(&seq.to_le_bytes());
    if matches!(body.first(), Some(&(TAG_CHECKED | TAG_LOGGED))) {
        if let Some(check) = body.get_mut(1..CHECKED_ENVELOPE_BYTES) {
            let stored = u32::from_le_bytes([check[0], check[1], check[2], check[3]]);
            let updated = stored ^ seq_mix(old) ^ seq_mix(seq);
            check.copy_from_slice(&updated.to_le_bytes());
        }
    }
}

/// The sequence number in a record's header.
#[cfg(test)]
pub fn record_seq(record: &[u8]) -> Option<u64> {
    let header = record.get(..RECORD_HEADER_BYTES)?;
    Some(u64::from_le_bytes(header.try_into().ok()?))
}

/// The body inside a record (the document encoding or its compressed envelope), *without*
/// verifying the checksum: for records already verified (a transaction's own reads) or
/// statistics that do not decode.
pub fn record_body<'a>(table: &str, record: &'a [u8]) -> Result<&'a [u8]> {
    let body = record
        .get(RECORD_HEADER_BYTES..)
        .filter(|body| !body.is_empty())
        .ok_or_else(|| EngineError::corrupt(table, "document record shorter than its header"))?;
    match body.first() {
        Some(&TAG_CHECKED) => body
            .get(CHECKED_ENVELOPE_BYTES..)
            .filter(|inner| !inner.is_empty())
            .ok_or_else(|| EngineError::corrupt(table, "checked record without a body")),
        Some(&TAG_LOGGED) => body
            .get(LOGGED_ENVELOPE_BYTES..)
            .filter(|inner| !inner.is_empty())
            .ok_or_else(|| EngineError::corrupt(table, "checked record without a body")),
        _ => Ok(body),
    }
}

/// The body inside a record, verified against its checksum.
pub(crate) fn verified_body<'a>(at: RecordAt<'_>, record: &'a [u8]) -> Result<&'a [u8]> {
    let short = || at.corruption("record shorter than its header");
    let (header, body) = record
        .split_at_checked(RECORD_HEADER_BYTES)
        .ok_or_else(short)?;
    let Some((&tag, rest)) = body.split_first() else {
        return Err(short());
    };
    let (check, rest) = match tag {
        TAG_CHECKED | TAG_LOGGED => rest.split_at_checked(4).ok_or_else(short)?,
        // Written before records carried checksums.
        _ => return Ok(body),
    };
    let (change_index, inner) = match tag {
        TAG_LOGGED => {
            let (index, inner) = rest.split_at_checked(4).ok_or_else(short)?;
            let index = u32::from_le_bytes(index.try_into().map_err(|_| short())?);
            (Some(index), inner)
        }
        _ => (None, rest),
    };
    let seq = u64::from_le_bytes(header.try_into().map_err(|_| short())?);
    let stored = u32::from_le_bytes(check.try_into().map_err(|_| short())?);
    if inner.is_empty() || stored != body_checksum(at.key, change_index, inner) ^ seq_mix(seq) {
        return Err(at.corruption("record checksum mismatch: the data file is damaged"));
    }
    Ok(inner)
}

/// Decodes a stored record after verifying its checksum, straight from the (decompressed)
/// body: a document holding vectors copies its body once into an aligned buffer that its
/// vectors share (a vector field reads as `&[f32]` without a further copy); any other is
/// decoded without copying its encoding.
pub(crate) fn decode_record(codecs: &Codecs, at: RecordAt<'_>, record: &[u8]) -> Result<Value> {
    decode_record_with(codecs, at, record, cairn_doc::decode_document)
}

/// [`decode_record`] of only the top-level `fields` (see [`cairn_doc::decode_fields`]).
pub(crate) fn decode_record_fields(
    codecs: &Codecs,
    at: RecordAt<'_>,
    record: &[u8],
    fields: &[&str],
) -> Result<Value> {
    decode_record_with(codecs, at, record, |plain| {
        cairn_doc::decode_fields(plain, fields)
    })
}

/// Verifies a record's checksum and decodes its plain body with `decode`.
fn decode_record_with(
    codecs: &Codecs,
    at: RecordAt<'_>,
    record: &[u8],
    decode: impl FnOnce(&[u8]) -> std::result::Result<Value, cairn_doc::DocError>,
) -> Result<Value> {
    let body = verified_body(at, record)?;
    let decoded = codecs.with_plain(at.collection, body, |plain| {
        decode(plain).map_err(|err| at.corruption(err))
    });
    decoded.map_err(|err| match err {
        EngineError::Corrupt { detail, .. } => at.corruption(detail),
        other => other,
    })
}

/// The key-seeded hash of a body, folded to 32 bits; a logged record's change index enters the
/// seed (so a flipped index bit is caught like any other).
fn body_checksum(key: &[u8], change_index: Option<u32>, body: &[u8]) -> u32 {
    let index_mix = change_index.map_or(0, |index| {
        (u64::from(index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    });
    fold(xxh3_64_with_seed(body, xxh3_64(key) ^ index_mix))
}

/// The sequence number's part of the checksum: a bijective mix, so any change of the number
/// changes the 64-bit value, folded to 32 bits like the body hash.
fn seq_mix(seq: u64) -> u32 {
    // The 64-bit golden-ratio constant: odd, so multiplying by it is a bijection.
    let mixed = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    fold(mixed ^ (mixed >> 29))
}

fn fold(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::compression::Compression;

    const KEY: &[u8] = b"\x02k1";

    fn at(key: &[u8]) -> RecordAt<'_> {
        RecordAt {
            collection: "c",
            key,
        }
    }

    fn sample_record(compression: Compression) -> (Value, Vec<u8>) {
        logged_record(compression, None)
    }

    fn logged_record(compression: Compression, change_index: Option<u32>) -> (Value, Vec<u8>) {
        let codecs = Codecs::new(compression, Default::default());
        let doc = Value::from_json_str(r#"{"a": 1, "text": "some text that repeats, some text that repeats, some text that repeats"}"#).unwrap_or(Value::Null);
        let mut record = Vec::new();
        let encoded = encode_record(&codecs, (1, "c"), KEY, &doc, change_index, &mut record);
        assert!(encoded.is_ok());
        (doc, record)
    }

    #[test]
    fn a_logged_record_names_its_change_and_every_flipped_bit_is_caught() {
        for compression in [Compression::OFF, Compression::default()] {
            let codecs = Codecs::new(compression, Default::default());
            let (doc, mut record) = logged_record(compression, Some(70_000));
            assert_eq!(logged_at(&record), Some((0, 70_000)));
            stamp_seq(&mut record, 9);
            assert_eq!(logged_at(&record), Some((9, 70_000)));
            assert_eq!(decode_record(&codecs, at(KEY), &record).ok(), Some(doc));
            assert!(record_body("t", &record).is_ok());
            for byte in 0..record.len() {
                for bit in 0..8 {
                    let mut damaged = record.clone();
                    damaged[byte] ^= 1 << bit;
                    let outcome = decode_record(&codecs, at(KEY), &damaged);
                    assert!(
                        matches!(outcome, Err(EngineError::Corruption { .. })),
                        "byte {byte} bit {bit}: {outcome:?}"
                    );
                }
            }
            let (_, plain) = sample_record(compression);
            assert_eq!(logged_at(&plain), None);
        }
    }

    #[test]
    fn the_writer_stamps_the_sequence_into_the_header() {
        let codecs = Codecs::new(Compression::default(), Default::default());
        let (doc, mut record) = sample_record(Compression::default());
        assert_eq!(record_seq(&record), Some(0));
        stamp_seq(&mut record, 77);
        assert_eq!(record_seq(&record), Some(77));
        assert_eq!(
            decode_record(&codecs, at(KEY), &record).ok(),
            Some(doc.clone())
        );
        stamp_seq(&mut record, 1 << 40);
        assert_eq!(decode_record(&codecs, at(KEY), &record).ok(), Some(doc));
        assert!(decode_record(&codecs, at(KEY), &record[..RECORD_HEADER_BYTES]).is_err());
    }

    #[test]
    fn every_flipped_bit_is_a_corruption_error_never_a_different_document() {
        for compression in [Compression::OFF, Compression::default()] {
            let codecs = Codecs::new(compression, Default::default());
            let (_, mut record) = sample_record(compression);
            stamp_seq(&mut record, 12345);
            for byte in 0..record.len() {
                for bit in 0..8 {
                    let mut damaged = record.clone();
                    damaged[byte] ^= 1 << bit;
                    let outcome = decode_record(&codecs, at(KEY), &damaged);
                    assert!(
                        matches!(outcome, Err(EngineError::Corruption { .. })),
                        "byte {byte} bit {bit}: {outcome:?}"
                    );
                }
            }
            // The key is covered too: the record read under another key is refused.
            let outcome = decode_record(&codecs, at(b"\x02k2"), &record);
            assert!(matches!(outcome, Err(EngineError::Corruption { .. })));
        }
    }

    #[test]
    fn records_without_a_checksum_stay_readable() {
        let codecs = Codecs::new(Compression::OFF, Default::default());
        let doc = Value::from_json_str(r#"{"a": 1}"#).unwrap_or(Value::Null);
        let mut record = vec![0u8; RECORD_HEADER_BYTES];
        assert!(cairn_doc::encode_document(&doc, &mut record).is_ok());
        stamp_seq(&mut record, 5);
        assert_eq!(decode_record(&codecs, at(KEY), &record).ok(), Some(doc));
        assert!(record_body("t", &record).is_ok());
    }
}
