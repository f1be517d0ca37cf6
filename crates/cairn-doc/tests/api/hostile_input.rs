//! The decoder against damaged and crafted bytes: errors, never panics, never over-allocates.

use cairn_doc::limits::{MAX_NESTING_DEPTH, MAX_VECTOR_DIM};
use cairn_doc::{decode_document, decode_record, encode_document, DocError, RecordBuf};
use proptest::prelude::*;

use crate::alloc_counter::bytes_allocated_by;
use crate::strategies::document;

/// Appends `value` as LEB128.
fn varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// A one-field document `{"k": <tag + payload>}`.
fn one_field(tag_and_payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![1, 1, 1, b'k'];
    bytes.extend_from_slice(tag_and_payload);
    bytes
}

fn corrupt_reason(bytes: &[u8]) -> &'static str {
    match decode_document(bytes) {
        Err(DocError::Corrupt { reason, .. }) => reason,
        other => panic!("expected corruption, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_document(&bytes);
        let mut versioned = vec![1];
        versioned.extend_from_slice(&bytes);
        let _ = decode_document(&versioned);
    }

    #[test]
    fn mutated_valid_encodings_never_panic(
        doc in document(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = Vec::new();
        encode_document(&doc, &mut bytes).unwrap();
        for (index, byte, kind) in edits {
            let at = index.index(bytes.len());
            match kind {
                0 => bytes[at] = byte,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, byte),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if let Ok(value) = decode_document(&bytes) {
            // Whatever decodes is a valid document again.
            let mut again = Vec::new();
            prop_assert!(encode_document(&value, &mut again).is_ok());
        }
    }

    #[test]
    fn every_truncation_of_a_valid_encoding_is_rejected(doc in document()) {
        let mut bytes = Vec::new();
        encode_document(&doc, &mut bytes).unwrap();
        for len in 0..bytes.len() {
            prop_assert!(decode_document(&bytes[..len]).is_err());
        }
    }
}

#[test]
fn huge_counts_are_rejected_before_allocating() {
    for tag in [0x06u8, 0x07, 0x08, 0x09] {
        let mut payload = vec![tag];
        varint(&mut payload, 1 << 40);
        payload.extend_from_slice(&[0; 16]);
        let buf = RecordBuf::copy_from(&one_field(&payload));
        let (result, allocated) = bytes_allocated_by(|| decode_record(&buf));
        assert!(
            matches!(result, Err(DocError::Corrupt { .. })),
            "tag {tag}: {result:?}"
        );
        assert!(allocated < 4096, "tag {tag}: allocated {allocated} bytes");
    }
    let mut root = vec![1];
    varint(&mut root, u64::MAX);
    let buf = RecordBuf::copy_from(&root);
    let (result, allocated) = bytes_allocated_by(|| decode_record(&buf));
    assert!(result.is_err());
    assert!(allocated < 4096, "allocated {allocated} bytes");
}

#[test]
fn a_lying_count_within_the_input_reserves_little() {
    // Claims 60,000 elements and has the bytes for them, but they are not valid values.
    let mut payload = vec![0x08];
    varint(&mut payload, 60_000);
    payload.extend(std::iter::repeat_n(0xEE, 60_000));
    let buf = RecordBuf::copy_from(&one_field(&payload));
    let (result, allocated) = bytes_allocated_by(|| decode_record(&buf));
    assert!(result.is_err());
    assert!(allocated < 200_000, "allocated {allocated} bytes");
}

#[test]
fn each_kind_of_corruption_is_named() {
    assert_eq!(corrupt_reason(&[]), "unexpected end of input");
    assert_eq!(corrupt_reason(&one_field(&[0x7f])), "unknown value tag");
    assert_eq!(
        corrupt_reason(&[1, 0, 0]),
        "trailing bytes after the document"
    );
    assert_eq!(
        corrupt_reason(&one_field(&[0x06, 1, 0xff])),
        "string is not valid UTF-8"
    );
    assert_eq!(
        corrupt_reason(&one_field(&[0x03, 0x80, 0x00])),
        "overlong or oversized varint"
    );
    let duplicate = [1, 2, 1, b'k', 0x00, 1, b'k', 0x00];
    assert_eq!(corrupt_reason(&duplicate), "duplicate key in object");
    assert_eq!(corrupt_reason(&[1, 1, 1, b'$', 0x00]), "invalid field name");
    assert_eq!(
        corrupt_reason(&[1, 1, 0, 0x00]),
        "length or count exceeds the bytes remaining"
    );
    let mut nan = vec![0x04];
    nan.extend_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(corrupt_reason(&one_field(&nan)), "non-finite float");
    let mut inf = vec![0x05];
    inf.extend_from_slice(&f32::INFINITY.to_le_bytes());
    assert_eq!(corrupt_reason(&one_field(&inf)), "non-finite float");
    let mut wide = vec![0x04];
    wide.extend_from_slice(&1.5f64.to_le_bytes());
    assert!(corrupt_reason(&one_field(&wide)).contains("non-canonical"));
}

#[test]
fn vector_padding_and_dimensions_are_checked() {
    // {"k": vector}: tag at offset 4, dim at 5, components must start at 8 (two padding bytes).
    let valid = one_field(&[0x0C, 1, 0, 0, 0, 0, 0x80, 0x3f]);
    assert!(decode_document(&valid).is_ok());
    let dirty = one_field(&[0x0C, 1, 0, 7, 0, 0, 0x80, 0x3f]);
    assert_eq!(corrupt_reason(&dirty), "non-zero vector padding");
    let nan = one_field(&[0x0C, 1, 0, 0, 0, 0, 0xc0, 0x7f]);
    assert_eq!(corrupt_reason(&nan), "non-finite vector component");
    let mut huge = vec![0x0C];
    varint(&mut huge, MAX_VECTOR_DIM as u64 + 1);
    assert!(corrupt_reason(&one_field(&huge)).contains("MAX_VECTOR_DIM"));
    let short = one_field(&[0x0C, 2, 0, 0, 0, 0, 0x80, 0x3f]);
    assert_eq!(corrupt_reason(&short), "length runs past the end of input");
}

#[test]
fn nesting_beyond_the_limit_is_corrupt() {
    // The root is depth 1; each nested one-element array adds one.
    let nested = |arrays: usize| {
        let mut payload = Vec::new();
        for _ in 0..arrays {
            payload.extend_from_slice(&[0x08, 1]);
        }
        payload.push(0x00);
        one_field(&payload)
    };
    assert!(decode_document(&nested(MAX_NESTING_DEPTH - 1)).is_ok());
    assert!(corrupt_reason(&nested(MAX_NESTING_DEPTH)).contains("nesting"));
    assert!(corrupt_reason(&nested(100_000)).contains("nesting"));
}

#[test]
fn unknown_versions_are_refused_by_number() {
    assert_eq!(
        decode_document(&[2, 0]),
        Err(DocError::UnsupportedVersion { found: 2 })
    );
    assert_eq!(
        decode_document(&[0, 0]),
        Err(DocError::UnsupportedVersion { found: 0 })
    );
}

#[test]
fn dates_outside_four_digit_years_are_corrupt() {
    let mut payload = vec![0x0A];
    // zigzag(i64::MAX) = u64::MAX - 1.
    varint(&mut payload, u64::MAX - 1);
    assert!(corrupt_reason(&one_field(&payload)).contains("date"));
}
