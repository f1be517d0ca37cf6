//! `$group` and its accumulators, including a model test against a naive computation.

use std::collections::BTreeMap;

use cairn_doc::Value;
use proptest::prelude::*;

use super::{check, db_with, json};
use crate::aggregate::aggregate;

const SALES: &[&str] = &[
    r#"{"_id": 1, "city": "Oslo", "item": "tea", "amount": 10, "qty": 1}"#,
    r#"{"_id": 2, "city": "Bergen", "item": "tea", "amount": 4.5, "qty": 2}"#,
    r#"{"_id": 3, "city": "Oslo", "item": "cake", "amount": 20, "qty": 1}"#,
    r#"{"_id": 4, "city": "Oslo", "item": "tea", "amount": "n/a"}"#,
    r#"{"_id": 5, "item": "tea", "amount": 1}"#,
];

#[test]
fn every_accumulator_folds_its_group() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$sort": {"_id": 1}}, {"$group": {"_id": "$city", "total": {"$sum": "$amount"}, "n": {"$count": {}}, "ones": {"$sum": 1},
            "avg": {"$avg": "$amount"}, "lo": {"$min": "$amount"}, "hi": {"$max": "$amount"}, "first": {"$first": "$qty"},
            "last": {"$last": "$qty"}, "items": {"$push": "$item"}, "kinds": {"$addToSet": "$item"}}}]"#,
        r#"[
            {"_id": null, "total": 1, "n": 1, "ones": 1, "avg": 1.0, "lo": 1, "hi": 1, "first": null, "last": null,
             "items": ["tea"], "kinds": ["tea"]},
            {"_id": "Bergen", "total": 4.5, "n": 1, "ones": 1, "avg": 4.5, "lo": 4.5, "hi": 4.5, "first": 2, "last": 2,
             "items": ["tea"], "kinds": ["tea"]},
            {"_id": "Oslo", "total": 30, "n": 3, "ones": 3, "avg": 15.0, "lo": 10, "hi": "n/a", "first": 1, "last": null,
             "items": ["tea", "cake", "tea"], "kinds": ["cake", "tea"]}
        ]"#,
    );
}

#[test]
fn null_key_groups_everything_and_no_input_gives_no_groups() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$group": {"_id": null, "n": {"$count": {}}, "qty": {"$sum": "$qty"}}}]"#,
        r#"[{"_id": null, "n": 5, "qty": 4}]"#,
    );
    check(
        &db,
        r#"[{"$match": {"city": "Paris"}}, {"$group": {"_id": null, "n": {"$count": {}}}}]"#,
        "[]",
    );
}

#[test]
fn object_keys_group_by_several_fields() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$group": {"_id": {"c": "$city", "i": "$item"}, "n": {"$sum": 1}}}, {"$sort": {"n": -1, "_id.c": 1, "_id.i": 1}}]"#,
        r#"[{"_id": {"c": "Oslo", "i": "tea"}, "n": 2}, {"_id": {"i": "tea"}, "n": 1}, {"_id": {"c": "Bergen", "i": "tea"}, "n": 1},
            {"_id": {"c": "Oslo", "i": "cake"}, "n": 1}]"#,
    );
}

#[test]
fn equal_numbers_of_different_types_share_a_group() {
    let db = db_with(&[
        r#"{"_id": 1, "k": 1}"#,
        r#"{"_id": 2, "k": 1.0}"#,
        r#"{"_id": 3, "k": 2}"#,
    ]);
    check(
        &db,
        r#"[{"$sort": {"_id": 1}}, {"$group": {"_id": "$k", "n": {"$count": {}}}}]"#,
        r#"[{"_id": 1, "n": 2}, {"_id": 2, "n": 1}]"#,
    );
}

#[test]
fn sums_stay_integers_until_a_float_or_an_overflow() {
    let db = db_with(&[
        r#"{"_id": 1, "g": "a", "v": 9223372036854775807}"#,
        r#"{"_id": 2, "g": "a", "v": 1}"#,
        r#"{"_id": 3, "g": "b", "v": 2}"#,
        r#"{"_id": 4, "g": "b", "v": 3}"#,
    ]);
    let out = aggregate(
        &db,
        "c",
        &json(r#"[{"$group": {"_id": "$g", "s": {"$sum": "$v"}}}]"#),
    )
    .unwrap();
    let sums: Vec<Value> = out
        .iter()
        .map(|doc| doc.as_object().unwrap().get("s").unwrap().clone())
        .collect();
    assert!(
        matches!(sums[0], Value::Float(f) if (f - i64::MAX as f64).abs() < 1e4),
        "{sums:?}"
    );
    assert_eq!(sums[1], Value::Int(5));
}

#[test]
fn accumulators_without_values_give_their_neutral_results() {
    let db = db_with(&[r#"{"_id": 1, "s": "x"}"#, r#"{"_id": 2}"#]);
    check(
        &db,
        r#"[{"$group": {"_id": null, "sum": {"$sum": "$s"}, "avg": {"$avg": "$s"}, "min": {"$min": "$v"}, "max": {"$max": "$v"},
            "push": {"$push": "$v"}, "set": {"$addToSet": "$v"}, "first": {"$first": "$v"}}}]"#,
        r#"[{"_id": null, "sum": 0, "avg": null, "min": null, "max": null, "push": [], "set": [], "first": null}]"#,
    );
}

#[test]
fn min_and_max_use_the_total_value_order_and_skip_nulls() {
    let db = db_with(&[
        r#"{"_id": 1, "v": null}"#,
        r#"{"_id": 2, "v": 3}"#,
        r#"{"_id": 3, "v": "a"}"#,
        r#"{"_id": 4, "v": [1]}"#,
        r#"{"_id": 5, "v": false}"#,
    ]);
    check(
        &db,
        r#"[{"$group": {"_id": null, "lo": {"$min": "$v"}, "hi": {"$max": "$v"}}}]"#,
        r#"[{"_id": null, "lo": false, "hi": [1]}]"#,
    );
}

#[test]
fn add_to_set_dedupes_equal_values_of_any_shape() {
    let db = db_with(&[
        r#"{"_id": 1, "v": {"a": 1, "b": 2}}"#,
        r#"{"_id": 2, "v": {"b": 2, "a": 1.0}}"#,
        r#"{"_id": 3, "v": 2}"#,
        r#"{"_id": 4, "v": 2.0}"#,
    ]);
    let out = aggregate(
        &db,
        "c",
        &json(r#"[{"$group": {"_id": null, "set": {"$addToSet": "$v"}}}]"#),
    )
    .unwrap();
    let set = out[0]
        .as_object()
        .unwrap()
        .get("set")
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(set, 2);
}

#[test]
fn groups_feed_later_stages() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$group": {"_id": "$item", "total": {"$sum": "$qty"}}}, {"$sort": {"total": -1}}, {"$limit": 1}, {"$project": {"_id": 0, "item": "$_id", "total": 1}}]"#,
        r#"[{"total": 3, "item": "tea"}]"#,
    );
}

/// One generated document: a low-cardinality key and a value that may be an int, a float or
/// missing.
fn row() -> impl Strategy<Value = (u8, Option<Result<i64, f64>>)> {
    let value = prop_oneof![
        4 => (-1000i64..1000).prop_map(Ok),
        1 => (-1000i64..1000).prop_map(|v| Err(v as f64 + 0.5)),
    ];
    (0u8..4, proptest::option::weighted(0.9, value))
}

#[derive(Default)]
struct Expected {
    count: i64,
    int_sum: i64,
    float_sum: f64,
    any_float: bool,
    numbers: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn group_count_sum_and_avg_match_a_naive_computation(rows in proptest::collection::vec(row(), 0..60)) {
        let docs: Vec<String> = rows.iter().enumerate().map(|(i, (k, v))| match v {
            Some(Ok(n)) => format!(r#"{{"_id": {i}, "k": {k}, "v": {n}}}"#),
            Some(Err(f)) => format!(r#"{{"_id": {i}, "k": {k}, "v": {f:?}}}"#),
            None => format!(r#"{{"_id": {i}, "k": {k}}}"#),
        }).collect();
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let db = db_with(&refs);
        let mut model: BTreeMap<i64, Expected> = BTreeMap::new();
        for (k, v) in &rows {
            let e = model.entry(i64::from(*k)).or_default();
            e.count += 1;
            match v {
                Some(Ok(n)) => { e.int_sum += n; e.float_sum += *n as f64; e.numbers += 1; }
                Some(Err(f)) => { e.float_sum += f; e.any_float = true; e.numbers += 1; }
                None => {}
            }
        }
        let out = aggregate(&db, "c", &json(
            r#"[{"$group": {"_id": "$k", "n": {"$count": {}}, "s": {"$sum": "$v"}, "a": {"$avg": "$v"}}}]"#,
        )).unwrap();
        prop_assert_eq!(out.len(), model.len());
        for (doc, (key, e)) in out.iter().zip(&model) {
            let o = doc.as_object().unwrap();
            prop_assert_eq!(o.get("_id"), Some(&Value::Int(*key)));
            prop_assert_eq!(o.get("n"), Some(&Value::Int(e.count)));
            match o.get("s") {
                Some(Value::Int(s)) => prop_assert!(!e.any_float && *s == e.int_sum),
                Some(Value::Float(s)) => prop_assert!(e.any_float && (s - e.float_sum).abs() < 1e-6),
                other => prop_assert!(false, "sum {:?}", other),
            }
            match o.get("a") {
                Some(Value::Null) => prop_assert_eq!(e.numbers, 0),
                Some(Value::Float(a)) => prop_assert!((a - e.float_sum / e.numbers as f64).abs() < 1e-6),
                other => prop_assert!(false, "avg {:?}", other),
            }
        }
    }
}
