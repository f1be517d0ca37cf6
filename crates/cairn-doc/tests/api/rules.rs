//! Document rules and limits, enforced identically by encoding and JSON parsing.

use cairn_doc::limits::{
    DATETIME_MAX_MICROS, MAX_DOCUMENT_BYTES, MAX_FIELD_NAME_BYTES, MAX_NESTING_DEPTH,
    MAX_VECTOR_DIM,
};
use cairn_doc::{check_document, encode_document, DateTime, DocError, Object, Value, Vector};

fn doc(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Object>(),
    )
}

/// Checks `value` both as a Rust value being encoded and, where JSON can express it, as JSON text.
fn both_reject(value: &Value) -> DocError {
    let mut out = Vec::new();
    let encoded = encode_document(value, &mut out).unwrap_err();
    assert_eq!(check_document(value), Err(encoded.clone()));
    encoded
}

/// A document whose field `a` nests `levels` arrays (the root object is depth 1).
fn nested_arrays(levels: usize) -> Value {
    let mut inner = Value::Null;
    for _ in 0..levels {
        inner = Value::Array(vec![inner]);
    }
    doc(vec![("a", inner)])
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected() {
    assert!(check_document(&nested_arrays(MAX_NESTING_DEPTH - 1)).is_ok());
    assert_eq!(
        both_reject(&nested_arrays(MAX_NESTING_DEPTH)),
        DocError::TooDeep {
            depth: MAX_NESTING_DEPTH + 1,
            limit: MAX_NESTING_DEPTH
        }
    );
    let json = nested_arrays(MAX_NESTING_DEPTH).to_json_string();
    assert!(matches!(
        Value::from_json_str(&json),
        Err(DocError::TooDeep { .. })
    ));
}

#[test]
fn documents_larger_than_the_limit_are_rejected() {
    let fits = doc(vec![(
        "s",
        Value::String("x".repeat(MAX_DOCUMENT_BYTES - 16)),
    )]);
    assert!(check_document(&fits).is_ok());
    let big = doc(vec![("s", Value::String("x".repeat(MAX_DOCUMENT_BYTES)))]);
    assert!(matches!(
        both_reject(&big),
        DocError::TooLarge {
            limit_bytes: MAX_DOCUMENT_BYTES,
            ..
        }
    ));
    assert!(matches!(
        Value::from_json_str(&big.to_json_string()),
        Err(DocError::TooLarge { .. })
    ));
    // Many small fields add up too.
    let chunk = Value::String("y".repeat(MAX_DOCUMENT_BYTES / 1000));
    let many = doc(vec![("a", Value::Array(vec![chunk; 1001]))]);
    assert!(matches!(both_reject(&many), DocError::TooLarge { .. }));
}

#[test]
fn bad_field_names_are_rejected_wherever_they_are() {
    let long = "k".repeat(MAX_FIELD_NAME_BYTES + 1);
    for name in ["", "a.b", "$x", long.as_str()] {
        let nested = doc(vec![("outer", doc(vec![(name, Value::Null)]))]);
        match both_reject(&nested) {
            DocError::InvalidFieldName { name: found, .. } => assert_eq!(found, name),
            other => panic!("{name:?}: {other:?}"),
        }
        assert!(matches!(
            Value::from_json_str(&nested.to_json_string()),
            Err(DocError::InvalidFieldName { .. })
        ));
    }
}

#[test]
fn non_finite_numbers_are_rejected_with_their_path() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let value = doc(vec![(
            "a",
            Value::Array(vec![Value::Int(1), doc(vec![("b", Value::Float(bad))])]),
        )]);
        assert_eq!(
            both_reject(&value),
            DocError::NonFiniteFloat {
                path: "a.1.b".into()
            }
        );
    }
    let vector = doc(vec![(
        "v",
        Value::Vector(Vector::from_vec(vec![1.0, f32::NAN])),
    )]);
    assert_eq!(
        both_reject(&vector),
        DocError::NonFiniteFloat { path: "v".into() }
    );
}

#[test]
fn oversized_vectors_and_out_of_range_dates_are_rejected() {
    let vector = doc(vec![(
        "v",
        Value::Vector(Vector::from_vec(vec![0.0; MAX_VECTOR_DIM + 1])),
    )]);
    assert!(
        matches!(both_reject(&vector), DocError::VectorTooLarge { dim, .. } if dim == MAX_VECTOR_DIM + 1)
    );
    let largest = doc(vec![(
        "v",
        Value::Vector(Vector::from_vec(vec![0.0; MAX_VECTOR_DIM])),
    )]);
    assert!(check_document(&largest).is_ok());
    let date = doc(vec![(
        "d",
        Value::DateTime(DateTime(DATETIME_MAX_MICROS + 1)),
    )]);
    assert!(
        matches!(both_reject(&date), DocError::DateTimeOutOfRange { ref path, .. } if path == "d")
    );
}
