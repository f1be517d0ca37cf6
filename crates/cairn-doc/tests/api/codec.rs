//! The binary encoding: round trips, canonical form, compactness, zero-copy vectors.

use cairn_doc::{
    decode_document, decode_fields, decode_record, encode_document, encoded_len, DocError, Object,
    RecordBuf, Value, Vector, ENCODING_VERSION,
};
use proptest::prelude::*;

use crate::strategies::{document, field_name};

fn encode(doc: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_document(doc, &mut out).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_document_round_trips_through_bytes(doc in document()) {
        let bytes = encode(&doc);
        prop_assert_eq!(bytes[0], ENCODING_VERSION);
        prop_assert_eq!(encoded_len(&doc).unwrap(), bytes.len());
        let decoded = decode_document(&bytes).unwrap();
        prop_assert_eq!(&decoded, &doc);
        // One encoding per document: re-encoding what was decoded gives the same bytes.
        prop_assert_eq!(encode(&decoded), bytes);
    }

    #[test]
    fn documents_appended_after_a_prefix_decode_from_their_own_start(
        doc in document(),
        prefix_len in 0usize..8,
    ) {
        let mut out = vec![0xAA; prefix_len];
        encode_document(&doc, &mut out).unwrap();
        prop_assert_eq!(decode_document(&out[prefix_len..]).unwrap(), doc);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoding_some_fields_is_the_whole_decode_narrowed_to_them(
        doc in document(),
        pick in prop::collection::vec(any::<bool>(), 6),
        absent in field_name(),
    ) {
        let bytes = encode(&doc);
        let object = doc.as_object().unwrap();
        let mut names: Vec<&str> = object
            .keys()
            .zip(pick.iter())
            .filter(|(_, picked)| **picked)
            .map(|(name, _)| name)
            .collect();
        names.push(&absent);
        let narrowed: Object = object
            .iter()
            .filter(|(name, _)| names.contains(name))
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect();
        prop_assert_eq!(decode_fields(&bytes, &names).unwrap(), Value::Object(narrowed));
        // Skipped fields are stepped over with their lengths checked: a cut anywhere fails.
        for cut in 0..bytes.len() {
            prop_assert!(decode_fields(&bytes[..cut], &names).is_err());
        }
    }
}

#[test]
fn vectors_decoded_from_plain_bytes_share_one_copy_of_the_record() {
    let mut object = Object::new();
    object.insert("a", Vector::from_vec(vec![1.0, 2.0]));
    object.insert("b", Vector::from_vec(vec![3.0]));
    let decoded = decode_document(&encode(&Value::Object(object.clone()))).unwrap();
    assert_eq!(decoded, Value::Object(object));
    let record = |name: &str| {
        let vector = decoded.as_object().unwrap().get(name).unwrap().as_vector();
        vector.unwrap().record().cloned().unwrap()
    };
    assert!(record("a").ptr_eq(&record("b")));
}

fn doc_with_vector(components: Vec<f32>) -> Value {
    let mut object = Object::new();
    object.insert("k", "x");
    object.insert("v", Vector::from_vec(components));
    Value::Object(object)
}

#[test]
fn decoded_vectors_read_in_place_from_the_record() {
    let components = vec![0.5f32, -1.25, 3.0, f32::MAX, f32::MIN_POSITIVE];
    let buf = RecordBuf::copy_from(&encode(&doc_with_vector(components.clone())));
    let decoded = decode_record(&buf).unwrap();
    let vector = decoded
        .as_object()
        .unwrap()
        .get("v")
        .unwrap()
        .as_vector()
        .unwrap();
    assert_eq!(vector.as_slice(), &components[..]);
    assert!(
        vector.record().is_some_and(|r| r.ptr_eq(&buf)),
        "shares the buffer"
    );
    let record = buf.as_bytes().as_ptr_range();
    let floats = vector.as_slice().as_ptr_range();
    assert!(record.start <= floats.start.cast() && floats.end.cast() <= record.end);
    assert_eq!(floats.start as usize % 4, 0);
    // The decoded value outlives nothing: dropping the caller's handle keeps the floats alive.
    let vector = vector.clone();
    drop(decoded);
    drop(buf);
    assert_eq!(vector.to_vec(), components);
}

#[test]
fn vectors_are_padded_to_four_bytes_from_the_start_of_the_encoding() {
    // Key lengths 1..=4 move the vector through every alignment.
    for key_len in 1..=4 {
        let mut object = Object::new();
        object.insert("k".repeat(key_len), Vector::from_vec(vec![1.0, 2.0]));
        let bytes = encode(&Value::Object(object.clone()));
        let payload_end = bytes.len();
        assert_eq!((payload_end - 8) % 4, 0, "components start 4-aligned");
        assert_eq!(decode_document(&bytes).unwrap(), Value::Object(object));
    }
}

#[test]
fn floats_use_four_bytes_when_that_is_exact() {
    let single = |f: f64| {
        let mut o = Object::new();
        o.insert("f", f);
        encode(&Value::Object(o)).len()
    };
    assert_eq!(single(1.5), 1 + 1 + 2 + 1 + 4);
    assert_eq!(single(0.1), 1 + 1 + 2 + 1 + 8);
    assert_eq!(single(-0.0), 1 + 1 + 2 + 1 + 4);
}

#[test]
fn a_typical_json_document_encodes_smaller_than_its_text() {
    let json = r#"{"name":"Ada Lovelace","email":"ada@example.com","age":36,"active":true,
        "score":97.5,"tags":["math","poetry","engines"],"address":{"city":"London",
        "street":"St James's Square","zip":"SW1Y"},"logins":1843,"ratio":0.125}"#;
    let compact: String = json.split_whitespace().collect::<Vec<_>>().join(" ");
    let doc = Value::from_json_str(&compact).unwrap();
    let encoded = encode(&doc);
    assert!(
        compact.len() > 190,
        "the sample is about 200 bytes: {}",
        compact.len()
    );
    assert!(
        encoded.len() < compact.len() * 85 / 100,
        "{} encoded vs {} JSON",
        encoded.len(),
        compact.len()
    );
}

#[test]
fn failed_encoding_leaves_the_output_untouched() {
    let mut out = vec![1, 2, 3];
    let mut bad = Object::new();
    bad.insert("ok", 1);
    bad.insert("nan", f64::NAN);
    assert!(encode_document(&Value::Object(bad), &mut out).is_err());
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn only_objects_are_documents() {
    let mut out = Vec::new();
    assert_eq!(
        encode_document(&Value::Int(1), &mut out),
        Err(DocError::RootNotObject { found: "int" })
    );
    assert_eq!(
        encoded_len(&Value::Array(vec![])),
        Err(DocError::RootNotObject { found: "array" })
    );
}

#[test]
fn the_empty_document_is_two_bytes() {
    assert_eq!(encode(&Value::Object(Object::new())), [ENCODING_VERSION, 0]);
}
