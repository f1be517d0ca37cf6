//! The stored form of a document: a fixed header, then the document's binary encoding.
//!
//! ```text
//! [0..8)  sequence number of the commit that last wrote it (u64 LE) — the document's version
//! [8..)   body: the cairn_doc encoding (version byte first), or its compressed envelope
//!         (see `compression.rs`)
//! ```
//! The header has a fixed size so the writer can stamp the sequence number, which is only known
//! at commit, into bytes the transaction encoded earlier.

use cairn_doc::{RecordBuf, Value};

use crate::compression::Codecs;
use crate::error::{EngineError, Result};

/// Bytes before the document encoding.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Encodes `doc` as a record of collection `collection_id` (named `collection`, whose
/// compression settings apply) with a zero sequence number (stamped at commit).
pub(crate) fn encode_record(
    codecs: &Codecs,
    (collection_id, collection): (u32, &str),
    doc: &Value,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.clear();
    out.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
    if codecs.settings(collection).level.is_none() {
        cairn_doc::encode_document(doc, out)?;
        return Ok(());
    }
    let mut plain = Vec::new();
    cairn_doc::encode_document(doc, &mut plain)?;
    codecs.encode_body(collection_id, collection, &plain, out)
}

/// Writes the committing sequence number into a record's header.
pub fn stamp_seq(record: &mut [u8], seq: u64) {
    debug_assert!(record.len() > RECORD_HEADER_BYTES, "record without a body");
    if let Some(header) = record.get_mut(..RECORD_HEADER_BYTES) {
        header.copy_from_slice(&seq.to_le_bytes());
    }
}

/// The sequence number in a record's header.
#[cfg(test)]
pub fn record_seq(record: &[u8]) -> Option<u64> {
    let header = record.get(..RECORD_HEADER_BYTES)?;
    Some(u64::from_le_bytes(header.try_into().ok()?))
}

/// The document encoding inside a record.
pub fn record_body<'a>(table: &str, record: &'a [u8]) -> Result<&'a [u8]> {
    record
        .get(RECORD_HEADER_BYTES..)
        .filter(|body| !body.is_empty())
        .ok_or_else(|| EngineError::corrupt(table, "document record shorter than its header"))
}

/// Decodes a stored record. The (decompressed) body is copied once into an aligned buffer that
/// vectors in the document share, so a vector field reads as `&[f32]` without a further copy.
pub(crate) fn decode_record(codecs: &Codecs, table: &str, record: &[u8]) -> Result<Value> {
    let body = record_body(table, record)?;
    codecs.with_plain(table, body, |plain| {
        let buf = RecordBuf::copy_from(plain);
        cairn_doc::decode_record(&buf).map_err(|err| EngineError::corrupt(table, err))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::compression::Compression;

    #[test]
    fn the_writer_stamps_the_sequence_into_the_header() {
        let codecs = Codecs::new(Compression::default(), Default::default());
        let doc = Value::from_json_str(r#"{"a": 1, "text": "some text that repeats, some text that repeats, some text that repeats"}"#).unwrap_or(Value::Null);
        let mut record = Vec::new();
        assert!(encode_record(&codecs, (1, "c"), &doc, &mut record).is_ok());
        assert_eq!(record_seq(&record), Some(0));
        stamp_seq(&mut record, 77);
        assert_eq!(record_seq(&record), Some(77));
        assert_eq!(decode_record(&codecs, "t", &record).ok(), Some(doc));
        assert!(decode_record(&codecs, "t", &record[..RECORD_HEADER_BYTES]).is_err());
    }
}
