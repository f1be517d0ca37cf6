//! Patch operators: each operator's effect and each way a patch can be refused.

use cairn_doc::limits::MAX_PATCH_OPERATIONS;
use cairn_doc::{values_equal, DateTime, DocError, Patch, PatchOp, Value};

fn doc(json: &str) -> Value {
    Value::from_json_str(json).unwrap()
}

/// Applies the JSON patch to the JSON document and returns the result as JSON.
fn patched(document: &str, patch: &str) -> Result<String, DocError> {
    let mut value = doc(document);
    Patch::from_json_str(patch)?.apply(&mut value)?;
    Ok(value.to_json_string())
}

#[test]
fn set_replaces_in_place_and_creates_missing_parents() {
    assert_eq!(
        patched(r#"{"a":1,"b":2}"#, r#"{"$set":{"a":10}}"#).unwrap(),
        r#"{"a":10,"b":2}"#
    );
    assert_eq!(
        patched(r#"{"a":1}"#, r#"{"$set":{"x.y.z":true}}"#).unwrap(),
        r#"{"a":1,"x":{"y":{"z":true}}}"#
    );
    assert_eq!(
        patched(r#"{"l":[1,{"k":0}]}"#, r#"{"$set":{"l.1.k":5,"l.0":"s"}}"#).unwrap(),
        r#"{"l":["s",{"k":5}]}"#
    );
}

#[test]
fn set_through_a_scalar_or_past_an_array_end_fails() {
    assert_eq!(
        patched(r#"{"a":1}"#, r#"{"$set":{"a.b":2}}"#),
        Err(DocError::PatchTypeMismatch {
            path: "a".into(),
            expected: "an object or array",
            found: "int"
        })
    );
    assert_eq!(
        patched(r#"{"l":[1]}"#, r#"{"$set":{"l.3":2}}"#),
        Err(DocError::ArrayIndexOutOfRange {
            path: "l.3".into(),
            index: 3,
            len: 1
        })
    );
    assert!(matches!(
        patched(r#"{"l":[1]}"#, r#"{"$set":{"l.x":2}}"#),
        Err(DocError::PatchTypeMismatch { found: "array", .. })
    ));
}

#[test]
fn unset_removes_fields_keeps_order_and_ignores_missing_paths() {
    assert_eq!(
        patched(r#"{"a":1,"b":2,"c":3}"#, r#"{"$unset":{"b":""}}"#).unwrap(),
        r#"{"a":1,"c":3}"#
    );
    assert_eq!(
        patched(r#"{"a":1}"#, r#"{"$unset":{"x.y":1,"a.q":1}}"#).unwrap(),
        r#"{"a":1}"#
    );
    assert_eq!(
        patched(r#"{"l":[1,2]}"#, r#"{"$unset":{"l.0":1,"l.9":1}}"#).unwrap(),
        r#"{"l":[null,2]}"#
    );
}

#[test]
fn inc_adds_sets_missing_fields_and_widens_to_float() {
    assert_eq!(
        patched(r#"{"n":1}"#, r#"{"$inc":{"n":2}}"#).unwrap(),
        r#"{"n":3}"#
    );
    assert_eq!(
        patched(r#"{}"#, r#"{"$inc":{"c.n":-4}}"#).unwrap(),
        r#"{"c":{"n":-4}}"#
    );
    assert_eq!(
        patched(r#"{"n":1}"#, r#"{"$inc":{"n":0.5}}"#).unwrap(),
        r#"{"n":1.5}"#
    );
    assert_eq!(
        patched(r#"{"n":1.5}"#, r#"{"$inc":{"n":1}}"#).unwrap(),
        r#"{"n":2.5}"#
    );
}

#[test]
fn inc_refuses_overflow_non_numbers_and_infinity() {
    let max = format!(r#"{{"n":{}}}"#, i64::MAX);
    assert_eq!(
        patched(&max, r#"{"$inc":{"n":1}}"#),
        Err(DocError::IntegerOverflow { path: "n".into() })
    );
    assert_eq!(
        patched(r#"{"n":"x"}"#, r#"{"$inc":{"n":1}}"#),
        Err(DocError::PatchTypeMismatch {
            path: "n".into(),
            expected: "a number",
            found: "string"
        })
    );
    assert_eq!(
        Patch::from_json_str(r#"{"$inc":{"n":"1"}}"#),
        Err(DocError::PatchTypeMismatch {
            path: "n".into(),
            expected: "a number to add",
            found: "string"
        })
    );
    assert_eq!(
        patched(r#"{"n":1.7e308}"#, r#"{"$inc":{"n":1.7e308}}"#),
        Err(DocError::NonFiniteFloat { path: "n".into() })
    );
}

#[test]
fn push_appends_creates_and_accepts_each() {
    assert_eq!(
        patched(r#"{"l":[1]}"#, r#"{"$push":{"l":2}}"#).unwrap(),
        r#"{"l":[1,2]}"#
    );
    assert_eq!(
        patched(r#"{}"#, r#"{"$push":{"l":[1]}}"#).unwrap(),
        r#"{"l":[[1]]}"#
    );
    assert_eq!(
        patched(r#"{"l":[]}"#, r#"{"$push":{"l":{"$each":[1,{"k":2}]}}}"#).unwrap(),
        r#"{"l":[1,{"k":2}]}"#
    );
}

#[test]
fn push_onto_a_non_array_names_the_path_and_type() {
    assert_eq!(
        patched(r#"{"a":{"l":5}}"#, r#"{"$push":{"a.l":1}}"#),
        Err(DocError::PatchTypeMismatch {
            path: "a.l".into(),
            expected: "an array",
            found: "int"
        })
    );
    assert_eq!(
        Patch::from_json_str(r#"{"$push":{"l":{"$each":1}}}"#),
        Err(DocError::PatchTypeMismatch {
            path: "l.$each".into(),
            expected: "an array",
            found: "int"
        })
    );
    assert_eq!(
        Patch::from_json_str(r#"{"$push":{"l":{"$each":[1],"$slice":2}}}"#),
        Err(DocError::UnknownOperator {
            op: "$slice".into()
        })
    );
}

#[test]
fn pull_removes_every_semantically_equal_element() {
    assert_eq!(
        patched(r#"{"l":[1,2,1.0,"1",1]}"#, r#"{"$pull":{"l":1}}"#).unwrap(),
        r#"{"l":[2,"1"]}"#
    );
    assert_eq!(
        patched(
            r#"{"l":[{"a":1,"b":2},{"a":1}]}"#,
            r#"{"$pull":{"l":{"b":2,"a":1}}}"#
        )
        .unwrap(),
        r#"{"l":[{"a":1}]}"#
    );
    assert_eq!(patched(r#"{}"#, r#"{"$pull":{"l":1}}"#).unwrap(), r#"{}"#);
    assert_eq!(
        patched(r#"{"l":"s"}"#, r#"{"$pull":{"l":1}}"#),
        Err(DocError::PatchTypeMismatch {
            path: "l".into(),
            expected: "an array",
            found: "string"
        })
    );
}

#[test]
fn patches_may_not_touch_id() {
    assert_eq!(
        Patch::from_json_str(r#"{"$set":{"_id":1}}"#),
        Err(DocError::ImmutableId)
    );
    assert_eq!(
        Patch::from_json_str(r#"{"$unset":{"_id.x":1}}"#),
        Err(DocError::ImmutableId)
    );
    assert!(Patch::new().set("_idx", 1).is_ok());
}

#[test]
fn unknown_operators_and_malformed_patches_are_named() {
    assert_eq!(
        Patch::from_json_str(r#"{"$setOnInsert":{"a":"b"}}"#),
        Err(DocError::UnknownOperator {
            op: "$setOnInsert".into()
        })
    );
    assert!(matches!(
        Patch::from_json_str(r#"{"$set":[1]}"#),
        Err(DocError::PatchTypeMismatch { found: "array", .. })
    ));
    assert!(matches!(
        Patch::from_json_str("[]"),
        Err(DocError::PatchTypeMismatch { .. })
    ));
    assert!(matches!(
        Patch::from_json_str(r#"{"$set":{"a..b":1}}"#),
        Err(DocError::InvalidPath { .. })
    ));
}

#[test]
fn overlapping_paths_conflict_across_and_within_operators() {
    assert_eq!(
        Patch::from_json_str(r#"{"$set":{"a":1},"$inc":{"a.b":1}}"#),
        Err(DocError::PatchConflict {
            first: "a".into(),
            second: "a.b".into()
        })
    );
    assert!(matches!(
        Patch::from_json_str(r#"{"$set":{"a.b":1},"$unset":{"a.b":1}}"#),
        Err(DocError::PatchConflict { .. })
    ));
    assert!(Patch::new()
        .set("a.b", 1)
        .and_then(|p| p.set("a", 2))
        .is_err());
    assert!(Patch::from_json_str(r#"{"$set":{"a.b":1,"a.c":2,"ab":3}}"#).is_ok());
}

#[test]
fn values_written_by_a_patch_must_obey_the_document_rules() {
    assert!(matches!(
        Patch::from_json_str(r#"{"$set":{"a":{"$bad":1}}}"#),
        Err(DocError::InvalidFieldName { .. })
    ));
    assert_eq!(
        Patch::new().set("a.b", f64::NAN),
        Err(DocError::NonFiniteFloat { path: "a.b".into() })
    );
    let limit = MAX_PATCH_OPERATIONS;
    let mut patch = Patch::new();
    for i in 0..limit {
        patch = patch.set(&format!("f{i}"), 1).unwrap();
    }
    assert_eq!(
        patch.set("one_more", 1),
        Err(DocError::TooManyOperations {
            count: limit + 1,
            limit
        })
    );
}

#[test]
fn a_failing_patch_leaves_the_document_unchanged() {
    let mut value = doc(r#"{"a":1,"n":"x"}"#);
    let before = value.clone();
    let patch = Patch::new()
        .set("a", 2)
        .unwrap()
        .set("b", 3)
        .unwrap()
        .inc("n", 1)
        .unwrap();
    assert!(patch.apply(&mut value).is_err());
    assert_eq!(value, before);
    assert_eq!(
        Patch::new().apply(&mut Value::Int(1)),
        Err(DocError::RootNotObject { found: "int" })
    );
}

#[test]
fn builders_match_parsed_patches_and_to_value_round_trips() {
    let built = Patch::new()
        .set("a.b", 1)
        .unwrap()
        .unset("c")
        .unwrap()
        .inc("n", 2.5)
        .unwrap()
        .push("l", "x")
        .unwrap()
        .push_each("m", vec![Value::Int(1), Value::Int(2)])
        .unwrap()
        .pull("p", 3)
        .unwrap();
    let parsed = Patch::from_json_str(
        r#"{"$set":{"a.b":1},"$unset":{"c":1},"$inc":{"n":2.5},"$push":{"l":"x","m":{"$each":[1,2]}},"$pull":{"p":3}}"#,
    )
    .unwrap();
    assert_eq!(built, parsed);
    assert_eq!(Patch::from_value(&built.to_value()).unwrap(), built);
    assert_eq!(built.len(), 6);
    assert!(matches!(built.ops()[0], PatchOp::Set { .. }));
    assert_eq!(built.ops()[3].operator(), "$push");
}

#[test]
fn values_equal_treats_one_and_one_point_zero_alike() {
    assert!(values_equal(&Value::Int(1), &Value::Float(1.0)));
    assert!(!values_equal(&Value::Int(1), &Value::String("1".into())));
}

fn patched_value(doc: &str, patch: &str) -> Result<Value, DocError> {
    let mut doc = Value::from_json_str(doc).unwrap();
    Patch::from_json_str(patch)?.apply(&mut doc)?;
    Ok(doc)
}

#[test]
fn add_to_set_appends_only_values_not_already_there() {
    assert_eq!(
        patched_value(
            r#"{"t": ["a", 1]}"#,
            r#"{"$addToSet": {"t": {"$each": ["a", 1.0, "b", "b"]}, "u": 2}}"#
        )
        .unwrap(),
        Value::from_json_str(r#"{"t": ["a", 1, "b"], "u": [2]}"#).unwrap()
    );
    assert!(matches!(
        patched_value(r#"{"t": 1}"#, r#"{"$addToSet": {"t": 2}}"#),
        Err(DocError::PatchTypeMismatch { .. })
    ));
}

#[test]
fn rename_moves_a_field_and_ignores_a_missing_one() {
    assert_eq!(
        patched_value(
            r#"{"a": {"b": 1}, "c": 2}"#,
            r#"{"$rename": {"a.b": "x.y", "gone": "z"}}"#
        )
        .unwrap(),
        Value::from_json_str(r#"{"a": {}, "c": 2, "x": {"y": 1}}"#).unwrap()
    );
    // The target counts as written: it may not overlap another operation's path.
    assert!(matches!(
        Patch::from_json_str(r#"{"$rename": {"a": "b"}, "$set": {"b.c": 1}}"#),
        Err(DocError::PatchConflict { .. })
    ));
    assert!(matches!(
        Patch::from_json_str(r#"{"$rename": {"a": "_id"}}"#),
        Err(DocError::ImmutableId)
    ));
    assert!(matches!(
        Patch::from_json_str(r#"{"$rename": {"a": "a.b"}}"#),
        Err(DocError::PatchConflict { .. })
    ));
}

#[test]
fn mul_min_and_max_follow_mongodb_on_numbers_and_refuse_mixed_types() {
    assert_eq!(
        patched_value(
            r#"{"n": 3, "f": 1.5, "lo": 5, "hi": 5, "s": "m", "d": {"$date": "2024-01-01T00:00:00Z"}}"#,
            r#"{"$mul": {"n": 4, "f": 2, "missing": 7}, "$min": {"lo": 2.5, "s": "a", "new": 1}, "$max": {"hi": 3, "d": {"$date": "2025-01-01T00:00:00Z"}}}"#
        )
        .unwrap(),
        Value::from_json_str(
            r#"{"n": 12, "f": 3.0, "lo": 2.5, "hi": 5, "s": "a", "d": {"$date": "2025-01-01T00:00:00Z"}, "missing": 0, "new": 1}"#
        )
        .unwrap()
    );
    assert!(matches!(
        patched_value(r#"{"n": 9223372036854775807}"#, r#"{"$mul": {"n": 2}}"#),
        Err(DocError::IntegerOverflow { .. })
    ));
    assert!(matches!(
        patched_value(r#"{"n": "text"}"#, r#"{"$max": {"n": 1}}"#),
        Err(DocError::PatchTypeMismatch { .. })
    ));
}

#[test]
fn current_date_sets_the_time_of_the_write() {
    let before = DateTime::now();
    let doc = patched_value(
        r#"{"a": 1}"#,
        r#"{"$currentDate": {"at": true, "b.c": {"$type": "date"}}}"#,
    )
    .unwrap();
    let object = doc.as_object().unwrap();
    match object.get("at") {
        Some(Value::DateTime(at)) => assert!(*at >= before),
        other => panic!("{other:?}"),
    }
    assert!(Patch::from_json_str(r#"{"$currentDate": {"at": 1}}"#).is_err());
    // The patch reads back from its own value form.
    let patch = Patch::from_json_str(
        r#"{"$addToSet": {"t": {"$each": [1, 2]}}, "$rename": {"a": "b"}, "$mul": {"m": 2}, "$min": {"x": 1}, "$max": {"y": 2}, "$currentDate": {"z": true}}"#,
    )
    .unwrap();
    assert_eq!(Patch::from_value(&patch.to_value()).unwrap(), patch);
}
