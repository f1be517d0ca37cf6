//! The JSON mapping: round trips, wrappers, number rules, strictness.

use cairn_doc::limits::{MAX_NESTING_DEPTH, MAX_VECTOR_DIM};
use cairn_doc::{DateTime, DocError, JsonExpression, Object, Value, Vector};
use proptest::prelude::*;

use crate::strategies::{document, value};

fn parse(text: &str) -> Value {
    Value::from_json_str(text).unwrap()
}

fn field(doc: &Value, key: &str) -> Value {
    doc.as_object().unwrap().get(key).unwrap().clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_text_round_trips_through_values(doc in document()) {
        let text = doc.to_json_string();
        let parsed = Value::from_json_str(&text).unwrap();
        prop_assert_eq!(&parsed, &doc);
        prop_assert_eq!(parsed.to_json_string(), text);
    }

    #[test]
    fn serde_serialize_agrees_with_to_json_string(v in value()) {
        let via_serde = serde_json::to_string(&v).unwrap();
        prop_assert_eq!(Value::from_json_str(&via_serde).unwrap(), v.clone());
        let via_serde: Value = serde_json::from_str(&v.to_json_string()).unwrap();
        prop_assert_eq!(via_serde, v);
    }
}

#[test]
fn numbers_map_to_int_when_they_fit_and_float_otherwise() {
    let doc = parse(
        r#"{"a":1,"b":-9223372036854775808,"c":18446744073709551615,"d":1.0,"e":1e3,"f":-0}"#,
    );
    assert_eq!(field(&doc, "a"), Value::Int(1));
    assert_eq!(field(&doc, "b"), Value::Int(i64::MIN));
    assert_eq!(field(&doc, "c"), Value::Float(18446744073709551615.0));
    assert_eq!(field(&doc, "d"), Value::Float(1.0));
    assert_eq!(field(&doc, "e"), Value::Float(1000.0));
    // serde_json reads `-0` as a float so the sign survives.
    assert_eq!(
        field(&doc, "f").as_f64().map(f64::is_sign_negative),
        Some(true)
    );
    assert_eq!(
        Value::Float(1.0).to_json_string(),
        "1.0",
        "floats keep a fraction so they read back as floats"
    );
}

#[test]
fn wrappers_read_and_write_the_extra_types() {
    let text = r#"{"d":{"$date":"2024-05-01T12:30:00.25+02:00"},"u":{"$uuid":"0190C3C0-1234-7000-8000-00000000ABCD"},"b":{"$bytes":"aGVsbG8="},"v":{"$vector":[0.5,-1,2.25]}}"#;
    let doc = parse(text);
    assert_eq!(
        field(&doc, "d"),
        Value::DateTime(DateTime::parse_rfc3339("2024-05-01T10:30:00.25Z").unwrap())
    );
    assert_eq!(field(&doc, "b"), Value::Bytes(b"hello".to_vec()));
    assert_eq!(
        field(&doc, "v"),
        Value::Vector(Vector::from_vec(vec![0.5, -1.0, 2.25]))
    );
    assert_eq!(
        doc.to_json_string(),
        r#"{"d":{"$date":"2024-05-01T10:30:00.250000Z"},"u":{"$uuid":"0190c3c0-1234-7000-8000-00000000abcd"},"b":{"$bytes":"aGVsbG8="},"v":{"$vector":[0.5,-1.0,2.25]}}"#
    );
    assert_eq!(
        field(&parse(r#"{"d":{"$date":86400000}}"#), "d"),
        Value::DateTime(DateTime(86_400_000_000))
    );
}

#[test]
fn malformed_wrappers_name_the_wrapper() {
    for text in [
        r#"{"u":{"$uuid":"nope"}}"#,
        r#"{"b":{"$bytes":"not base64!"}}"#,
        r#"{"d":{"$date":"2024-05-01T00:00:00Z","x":1}}"#,
        r#"{"v":{"$vector":[1],"$date":"x"}}"#,
    ] {
        assert!(
            matches!(
                Value::from_json_str(text),
                Err(DocError::InvalidWrapper { .. })
            ),
            "{text}"
        );
    }
    assert!(matches!(
        Value::from_json_str(r#"{"d":{"$date":"yesterday"}}"#),
        Err(DocError::InvalidDateTime { .. })
    ));
    assert!(matches!(
        Value::from_json_str(r#"{"d":{"$date":[1]}}"#),
        Err(DocError::Json { .. })
    ));
    assert!(matches!(
        Value::from_json_str(r#"{"d":{"$date":9223372036854775807}}"#),
        Err(DocError::DateTimeOutOfRange { .. })
    ));
    assert!(matches!(
        Value::from_json_str(r#"{"v":{"$vector":[1e39]}}"#),
        Err(DocError::NonFiniteFloat { .. })
    ));
    let too_long = format!(
        r#"{{"v":{{"$vector":[{}0]}}}}"#,
        "0,".repeat(MAX_VECTOR_DIM)
    );
    assert!(matches!(
        Value::from_json_str(&too_long),
        Err(DocError::VectorTooLarge { .. })
    ));
}

#[test]
fn duplicate_keys_are_rejected_at_any_depth() {
    assert_eq!(
        Value::from_json_str(r#"{"a":1,"a":2}"#),
        Err(DocError::DuplicateKey { key: "a".into() })
    );
    assert_eq!(
        Value::from_json_str(r#"{"x":[{"b":1,"c":2,"b":3}]}"#),
        Err(DocError::DuplicateKey { key: "b".into() })
    );
    assert!(Value::from_json_expression(r#"{"$set":{"a":1},"$set":{"b":1}}"#).is_err());
}

#[test]
fn document_rules_apply_to_json_but_not_to_expressions() {
    for (text, name) in [
        (r#"{"a.b":1}"#, "a.b"),
        (r#"{"$set":{}}"#, "$set"),
        (r#"{"x":{"":1}}"#, ""),
    ] {
        match Value::from_json_str(text) {
            Err(DocError::InvalidFieldName { name: found, .. }) => assert_eq!(found, name),
            other => panic!("{text}: {other:?}"),
        }
    }
    let patch = Value::from_json_expression(r#"{"$set":{"a.b":{"$date":"2024-01-01T00:00:00Z"}}}"#)
        .unwrap();
    let set = patch
        .as_object()
        .unwrap()
        .get("$set")
        .unwrap()
        .as_object()
        .unwrap();
    assert!(matches!(set.get("a.b"), Some(Value::DateTime(_))));
    let expression: JsonExpression = serde_json::from_str(r#"{"$inc":{"n":1}}"#).unwrap();
    assert!(expression.0.as_object().unwrap().contains_key("$inc"));
    assert!(serde_json::from_str::<Value>(r#"{"$inc":{"n":1}}"#).is_err());
}

#[test]
fn nesting_is_limited_and_wrappers_do_not_count() {
    let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    // The root array counts as depth 1.
    assert!(Value::from_json_str(&nested(MAX_NESTING_DEPTH)).is_ok());
    assert_eq!(
        Value::from_json_str(&nested(MAX_NESTING_DEPTH + 1)),
        Err(DocError::TooDeep {
            depth: MAX_NESTING_DEPTH + 1,
            limit: MAX_NESTING_DEPTH
        })
    );
    assert!(matches!(
        Value::from_json_str(&nested(100_000)),
        Err(DocError::TooDeep { .. })
    ));
    let with_date = format!(
        "{}{{\"$date\":0}}{}",
        "[".repeat(MAX_NESTING_DEPTH),
        "]".repeat(MAX_NESTING_DEPTH)
    );
    assert!(Value::from_json_str(&with_date).is_ok());
}

#[test]
fn syntax_errors_report_line_and_column() {
    match Value::from_json_str("{\n  \"a\": 1,\n  \"b\": ?\n}") {
        Err(DocError::Json {
            line,
            column,
            message,
        }) => {
            assert_eq!((line, column), (3, 8), "{message}");
            assert!(column > 0);
            assert!(!message.contains("line"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Value::from_json_str("{} {}"),
        Err(DocError::Json { .. })
    ));
    assert!(matches!(
        Value::from_json_str(""),
        Err(DocError::Json { .. })
    ));
}

#[test]
fn strings_escape_control_characters_and_round_trip() {
    let mut object = Object::new();
    object.insert("s", "quote\" backslash\\ newline\n tab\t bell\u{7} é 🦀");
    let doc = Value::Object(object);
    let text = doc.to_json_string();
    assert!(text.contains("\\u0007"));
    assert_eq!(parse(&text), doc);
}

#[test]
fn values_that_break_the_rules_still_write_json() {
    assert_eq!(Value::Float(f64::NAN).to_json_string(), "null");
    assert_eq!(
        Value::DateTime(DateTime(i64::MAX)).to_json_string(),
        r#"{"$date":9223372036854775}"#
    );
}
