//! Pins every row of `src/filter/semantics.md`.

use cairn_doc::Value;
use cairn_query::Filter;

fn matches(filter: &str, doc: &str) -> bool {
    let filter = Filter::parse(&Value::from_json_expression(filter).unwrap()).unwrap();
    filter.matches(&Value::from_json_str(doc).unwrap())
}

#[test]
fn equality_numbers_arrays_nulls_and_missing() {
    assert!(matches(r#"{"a": 1}"#, r#"{"a": 1.0}"#));
    assert!(matches(r#"{"a": 1}"#, r#"{"a": [3, 1]}"#));
    assert!(matches(r#"{"a": [3, 1]}"#, r#"{"a": [3, 1]}"#));
    assert!(!matches(r#"{"a": [1, 3]}"#, r#"{"a": [3, 1]}"#));
    assert!(matches(r#"{"a": null}"#, r#"{"b": 1}"#));
    assert!(matches(r#"{"a": null}"#, r#"{"a": null}"#));
    assert!(!matches(r#"{"a": null}"#, r#"{"a": 0}"#));
    assert!(matches(
        r#"{"a": {"y": 2, "x": 1}}"#,
        r#"{"a": {"x": 1, "y": 2}}"#
    ));
    assert!(matches(r#"{"a": {"$ne": 5}}"#, r#"{"b": 1}"#));
    assert!(!matches(r#"{"a": {"$ne": 5}}"#, r#"{"a": [5, 6]}"#));
}

#[test]
fn ranges_stay_within_type_brackets() {
    assert!(matches(r#"{"a": {"$gt": 5}}"#, r#"{"a": 5.5}"#));
    assert!(!matches(r#"{"a": {"$gt": 5}}"#, r#"{"a": "6"}"#));
    assert!(!matches(r#"{"a": {"$lt": 5}}"#, r#"{"a": null}"#));
    assert!(!matches(r#"{"a": {"$lt": 5}}"#, r#"{"b": 1}"#));
    assert!(matches(r#"{"a": {"$gt": "b"}}"#, r#"{"a": "c"}"#));
    assert!(matches(
        r#"{"a": {"$gt": 1, "$lt": 5}}"#,
        r#"{"a": [0, 10]}"#
    ));
    assert!(matches(r#"{"a": {"$gte": null}}"#, r#"{"b": 1}"#));
    assert!(!matches(r#"{"a": {"$gt": null}}"#, r#"{"a": 1}"#));
    assert!(matches(
        r#"{"a": {"$gt": 9007199254740992}}"#,
        r#"{"a": 9007199254740993}"#
    ));
}

#[test]
fn paths_fan_out_and_index_arrays() {
    assert!(matches(r#"{"a.b": 2}"#, r#"{"a": [{"b": 1}, {"b": 2}]}"#));
    assert!(matches(r#"{"a.1": 7}"#, r#"{"a": [6, 7]}"#));
    assert!(!matches(r#"{"a.b": 2}"#, r#"{"a": [2]}"#));
}

#[test]
fn element_type_and_set_operators() {
    assert!(matches(r#"{"a": {"$exists": true}}"#, r#"{"a": null}"#));
    assert!(matches(r#"{"a": {"$exists": false}}"#, r#"{"b": null}"#));
    assert!(matches(r#"{"a": {"$type": "number"}}"#, r#"{"a": 1.5}"#));
    assert!(matches(
        r#"{"a": {"$type": "string"}}"#,
        r#"{"a": [1, "x"]}"#
    ));
    assert!(matches(r#"{"a": {"$type": "array"}}"#, r#"{"a": []}"#));
    assert!(matches(r#"{"a": {"$in": [1, "x"]}}"#, r#"{"a": "x"}"#));
    assert!(matches(r#"{"a": {"$nin": [1]}}"#, r#"{"b": 1}"#));
    assert!(matches(r#"{"a": {"$all": [1, 2]}}"#, r#"{"a": [2, 3, 1]}"#));
    assert!(!matches(r#"{"a": {"$all": []}}"#, r#"{"a": [1]}"#));
    assert!(matches(r#"{"a": {"$size": 2}}"#, r#"{"a": [1, 2]}"#));
    assert!(matches(
        r#"{"a": {"$elemMatch": {"$gt": 1, "$lt": 5}}}"#,
        r#"{"a": [0, 3]}"#
    ));
    assert!(!matches(
        r#"{"a": {"$elemMatch": {"$gt": 1, "$lt": 5}}}"#,
        r#"{"a": [0, 10]}"#
    ));
    assert!(matches(
        r#"{"a": {"$elemMatch": {"n": "x", "v": {"$gt": 1}}}}"#,
        r#"{"a": [{"n": "x", "v": 2}]}"#
    ));
    assert!(matches(
        r#"{"a": {"$regex": "^ab", "$options": "i"}}"#,
        r#"{"a": "ABc"}"#
    ));
    assert!(matches(r#"{"a": {"$not": {"$gt": 5}}}"#, r#"{"b": 1}"#));
}

#[test]
fn logic() {
    assert!(matches(r#"{}"#, r#"{"a": 1}"#));
    assert!(matches(r#"{"$or": [{"a": 1}, {"b": 2}]}"#, r#"{"b": 2}"#));
    assert!(!matches(r#"{"$nor": [{"a": 1}, {"b": 2}]}"#, r#"{"b": 2}"#));
    assert!(matches(
        r#"{"$and": [{"a": 1}, {"a": {"$type": "int"}}]}"#,
        r#"{"a": 1}"#
    ));
}

#[test]
fn malformed_filters_are_named_errors() {
    for (filter, needle) in [
        (r#"{"a": {"$bogus": 1}}"#, "a.$bogus"),
        (r#"{"$or": []}"#, "$or"),
        (r#"{"a": {"$in": 5}}"#, "a.$in"),
        (r#"{"a": {"$regex": "("}}"#, "a.$regex"),
        (r#"{"a": {"$type": "nope"}}"#, "a.$type"),
        (r#"[1]"#, "filter must be an object"),
    ] {
        let err = Filter::parse(&Value::from_json_expression(filter).unwrap()).unwrap_err();
        assert!(err.to_string().contains(needle), "{filter}: {err}");
    }
    let long = format!(r#"{{"a": {{"$regex": "{}"}}}}"#, "a".repeat(2000));
    assert!(Filter::parse(&Value::from_json_expression(&long).unwrap()).is_err());
    let mut deep = String::from(r#"{"a": 1}"#);
    for _ in 0..25 {
        deep = format!(r#"{{"$and": [{deep}]}}"#);
    }
    assert!(Filter::parse(&Value::from_json_expression(&deep).unwrap()).is_err());
}
