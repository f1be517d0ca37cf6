//! MongoDB Extended JSON v2 (what `mongoexport` writes) reads as the documented Cairn values,
//! and `to_mongo_json_string` writes what `mongoimport` reads.

use cairn_doc::{DateTime, DocError, Value};

fn field(text: &str) -> Result<Value, DocError> {
    let doc = Value::from_json_str(&format!(r#"{{"f":{text}}}"#))?;
    match doc {
        Value::Object(object) => Ok(object.get("f").cloned().unwrap_or(Value::Null)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn integer_dates_are_milliseconds_as_in_mongodb() {
    // 1600000000000 ms is 2020-09-13T12:26:40Z; read as microseconds it was 1970-01-19.
    let expected = Value::DateTime(DateTime::from_micros(1_600_000_000_000_000));
    assert_eq!(field(r#"{"$date":1600000000000}"#).unwrap(), expected);
    assert_eq!(
        field(r#"{"$date":{"$numberLong":"1600000000000"}}"#).unwrap(),
        expected
    );
    assert_eq!(
        field(r#"{"$date":"2020-09-13T12:26:40.000Z"}"#).unwrap(),
        expected
    );
    assert_eq!(
        field(r#"{"$date":{"$numberLong":"-1000"}}"#).unwrap(),
        Value::DateTime(DateTime::from_micros(-1_000_000))
    );
    assert!(matches!(
        field(r#"{"$date":{"$numberInt":"x"}}"#),
        Err(DocError::InvalidWrapper { .. })
    ));
    assert!(matches!(
        field(r#"{"$date":{"$numberLong":"9223372036854775807"}}"#),
        Err(DocError::DateTimeOutOfRange { .. })
    ));
}

#[test]
fn numbers_read_as_ints_and_floats() {
    assert_eq!(field(r#"{"$numberLong":"-42"}"#).unwrap(), Value::Int(-42));
    assert_eq!(field(r#"{"$numberInt":"7"}"#).unwrap(), Value::Int(7));
    assert_eq!(
        field(r#"{"$numberDouble":"2.5"}"#).unwrap(),
        Value::Float(2.5)
    );
    assert_eq!(
        field(r#"{"$numberDouble":"-1.0E+300"}"#).unwrap(),
        Value::Float(-1e300)
    );
    assert_eq!(
        field(r#"{"$numberDecimal":"19.99"}"#).unwrap(),
        Value::Float(19.99)
    );
    for refused in [
        r#"{"$numberInt":"4294967296"}"#,
        r#"{"$numberLong":"1.5"}"#,
        r#"{"$numberLong":7}"#,
        r#"{"$numberDouble":"NaN"}"#,
        r#"{"$numberDouble":"-Infinity"}"#,
        r#"{"$numberDouble":"1e999"}"#,
        r#"{"$numberDecimal":"1234567890.1234567"}"#,
        r#"{"$numberDecimal":"NaN"}"#,
    ] {
        match field(refused) {
            Err(DocError::InvalidWrapper { wrapper, reason }) => {
                assert!(refused.contains(wrapper), "{refused}: {wrapper}");
                assert!(!reason.is_empty());
            }
            other => panic!("{refused}: {other:?}"),
        }
    }
}

#[test]
fn object_ids_binaries_timestamps_and_regexes_have_documented_values() {
    assert_eq!(
        field(r#"{"$oid":"5F1D7A3B9C8E4F2A1B3C4D5E"}"#).unwrap(),
        Value::String("5f1d7a3b9c8e4f2a1b3c4d5e".to_owned())
    );
    assert!(field(r#"{"$oid":"5f1d"}"#).is_err());
    assert_eq!(
        field(r#"{"$binary":{"base64":"aGVsbG8=","subType":"00"}}"#).unwrap(),
        Value::Bytes(b"hello".to_vec())
    );
    assert_eq!(
        field(r#"{"$binary":{"base64":"AZDDwBI0cACAAAAAAACrzQ==","subType":"04"}}"#).unwrap(),
        Value::Uuid(uuid::Uuid::parse_str("0190c3c0-1234-7000-8000-00000000abcd").unwrap())
    );
    assert!(field(r#"{"$binary":{"base64":"aGVsbG8=","subType":"04"}}"#).is_err());
    assert_eq!(
        field(r#"{"$timestamp":{"t":1,"i":2}}"#).unwrap(),
        Value::Int((1 << 32) | 2)
    );
    assert_eq!(
        field(r#"{"$regularExpression":{"pattern":"^a","options":"i"}}"#).unwrap(),
        Value::String("/^a/i".to_owned())
    );
    for refused in [
        r#"{"$minKey":1}"#,
        r#"{"$maxKey":1}"#,
        r#"{"$undefined":true}"#,
    ] {
        assert!(
            matches!(field(refused), Err(DocError::InvalidWrapper { .. })),
            "{refused}"
        );
    }
    // An object id is a valid document id.
    let doc = Value::from_json_str(r#"{"_id":{"$oid":"5f1d7a3b9c8e4f2a1b3c4d5e"},"n":1}"#);
    assert!(doc.is_ok());
}

#[test]
fn mongo_export_writes_what_the_mongo_reader_reads_back() {
    let text = r#"{"_id":{"$oid":"5f1d7a3b9c8e4f2a1b3c4d5e"},"d":{"$date":"2020-09-13T12:26:40.123Z"},"old":{"$date":{"$numberLong":"-5000"}},"b":{"$binary":{"base64":"aGVsbG8=","subType":"00"}},"u":{"$uuid":"0190c3c0-1234-7000-8000-00000000abcd"},"v":{"$vector":[0.5,1.0]},"n":{"$numberLong":"3"}}"#;
    let doc = Value::from_json_str(text).unwrap();
    let written = doc.to_mongo_json_string();
    assert_eq!(
        written,
        r#"{"_id":"5f1d7a3b9c8e4f2a1b3c4d5e","d":{"$date":"2020-09-13T12:26:40.123Z"},"old":{"$date":{"$numberLong":"-5000"}},"b":{"$binary":{"base64":"aGVsbG8=","subType":"00"}},"u":{"$binary":{"base64":"AZDDwBI0cACAAAAAAACrzQ==","subType":"04"}},"v":[0.5,1.0],"n":3}"#
    );
    // Everything but the vector (written as a plain array) reads back as the same value.
    let mut back = Value::from_json_str(&written).unwrap();
    if let (Value::Object(back), Value::Object(original)) = (&mut back, &doc) {
        back.insert("v", original.get("v").cloned().unwrap_or(Value::Null));
    }
    assert_eq!(back, doc);
}
