//! `$replaceRoot`/`$replaceWith`, `$bucket`, `$sortByCount` and `$facet` against hand-computed
//! results (MongoDB's documented semantics), plus models for bucketing and counting.

use std::collections::BTreeMap;

use cairn_doc::Value;
use proptest::prelude::*;

use super::{check, db_with, fill, invalid_at, json};
use crate::aggregate::{aggregate, Pipeline};
use crate::error::QueryError;
use crate::limits::{MAX_BUCKET_BOUNDARIES, MAX_PIPELINE_STAGES};

const SALES: &[&str] = &[
    r#"{"_id": 1, "item": "pen", "price": 5, "city": "Oslo", "buyer": {"name": "ann", "age": 31}}"#,
    r#"{"_id": 2, "item": "ink", "price": 12.5, "city": "Bergen", "buyer": {"name": "bob", "age": 25}}"#,
    r#"{"_id": 3, "item": "pad", "price": 20, "city": "Oslo", "buyer": {"name": "cy", "age": 40}}"#,
    r#"{"_id": 4, "item": "pen", "price": 100, "city": "Oslo"}"#,
    r#"{"_id": 5, "item": "map", "price": "free", "city": "Bergen"}"#,
    r#"{"_id": 6, "item": "cap", "city": "Tromsø"}"#,
];

#[test]
fn replace_root_promotes_an_embedded_document() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$match": {"buyer": {"$exists": true}}}, {"$replaceRoot": {"newRoot": "$buyer"}}]"#,
        r#"[{"name": "ann", "age": 31}, {"name": "bob", "age": 25}, {"name": "cy", "age": 40}]"#,
    );
    // `$replaceWith` takes the expression itself; object expressions build new documents.
    check(
        &db,
        r#"[{"$match": {"_id": {"$lte": 2}}}, {"$replaceWith": {"who": "$buyer.name", "what": "$item"}}]"#,
        r#"[{"who": "ann", "what": "pen"}, {"who": "bob", "what": "ink"}]"#,
    );
}

#[test]
fn replace_root_fails_on_a_document_without_an_object_there() {
    let db = db_with(SALES);
    let err = aggregate(
        &db,
        "c",
        &json(r#"[{"$replaceRoot": {"newRoot": "$buyer"}}]"#),
    )
    .unwrap_err();
    let QueryError::Invalid { at, reason } = err else {
        panic!("expected an invalid-query error, got {err:?}");
    };
    assert_eq!(at, "pipeline[0].$replaceRoot.newRoot");
    assert!(
        reason.contains("missing") && reason.contains("_id 4"),
        "{reason}"
    );
    let err = aggregate(&db, "c", &json(r#"[{"$replaceWith": "$price"}]"#)).unwrap_err();
    assert!(err.to_string().contains("int"), "{err}");
}

#[test]
fn bucket_places_values_in_half_open_ranges_with_a_default_last() {
    let db = db_with(SALES);
    // 5 -> [0,10); 12.5, 20 -> [10,50); 100 -> [50,1000); "free" and missing -> default.
    check(
        &db,
        r#"[{"$bucket": {"groupBy": "$price", "boundaries": [0, 10, 50, 1000], "default": "other"}}]"#,
        r#"[{"_id": 0, "count": 1}, {"_id": 10, "count": 2}, {"_id": 50, "count": 1},
            {"_id": "other", "count": 2}]"#,
    );
    // With `output`, only its fields (no implicit count); an empty range is left out; a
    // value equal to the last boundary is outside.
    check(
        &db,
        r#"[{"$match": {"price": {"$type": "number"}}},
            {"$bucket": {"groupBy": "$price", "boundaries": [0, 10, 15, 100], "default": -1,
                         "output": {"items": {"$push": "$item"}, "total": {"$sum": "$price"}}}}]"#,
        r#"[{"_id": 0, "items": ["pen"], "total": 5}, {"_id": 10, "items": ["ink"], "total": 12.5},
            {"_id": 15, "items": ["pad"], "total": 20}, {"_id": -1, "items": ["pen"], "total": 100}]"#,
    );
    // String boundaries bucket strings.
    check(
        &db,
        r#"[{"$bucket": {"groupBy": "$city", "boundaries": ["A", "N", "Z"]}}]"#,
        r#"[{"_id": "A", "count": 2}, {"_id": "N", "count": 4}]"#,
    );
}

#[test]
fn bucket_without_default_fails_on_a_value_outside() {
    let db = db_with(SALES);
    let err = aggregate(
        &db,
        "c",
        &json(r#"[{"$bucket": {"groupBy": "$price", "boundaries": [0, 1000]}}]"#),
    )
    .unwrap_err();
    assert!(err.to_string().contains("outside every bucket"), "{err}");
}

#[test]
fn sort_by_count_counts_most_frequent_first_ties_in_key_order() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$sortByCount": "$city"}]"#,
        r#"[{"_id": "Oslo", "count": 3}, {"_id": "Bergen", "count": 2}, {"_id": "Tromsø", "count": 1}]"#,
    );
    // A missing value counts under null, like `$group`.
    check(
        &db,
        r#"[{"$sortByCount": "$buyer.name"}, {"$limit": 2}]"#,
        r#"[{"_id": null, "count": 3}, {"_id": "ann", "count": 1}]"#,
    );
}

#[test]
fn facet_runs_each_sub_pipeline_over_the_same_input() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$match": {"city": {"$ne": "Tromsø"}}},
            {"$facet": {
                "by_city": [{"$sortByCount": "$city"}],
                "priced": [{"$match": {"price": {"$type": "number"}}}, {"$count": "n"}],
                "cheapest": [{"$match": {"price": {"$type": "number"}}}, {"$sort": {"price": 1}},
                             {"$limit": 1}, {"$project": {"_id": 0, "item": 1}}],
                "none": [{"$match": {"city": "Paris"}}],
                "all_ids": [{"$project": {"_id": 1}}]}}]"#,
        r#"[{"by_city": [{"_id": "Oslo", "count": 3}, {"_id": "Bergen", "count": 2}],
             "priced": [{"n": 4}],
             "cheapest": [{"item": "pen"}],
             "none": [],
             "all_ids": [{"_id": 1}, {"_id": 2}, {"_id": 3}, {"_id": 4}, {"_id": 5}]}]"#,
    );
}

#[test]
fn facet_outputs_one_document_even_for_no_input_and_feeds_later_stages() {
    let db = db_with(SALES);
    check(
        &db,
        r#"[{"$match": {"city": "Paris"}}, {"$facet": {"n": [{"$count": "n"}], "docs": []}}]"#,
        r#"[{"n": [], "docs": []}]"#,
    );
    check(
        &db,
        r#"[{"$facet": {"first": [{"$limit": 2}, {"$project": {"item": 1}}]}},
            {"$unwind": "$first"}, {"$replaceRoot": {"newRoot": "$first"}}]"#,
        r#"[{"_id": 1, "item": "pen"}, {"_id": 2, "item": "ink"}]"#,
    );
}

#[test]
fn facet_sub_pipelines_may_look_up_other_collections() {
    let db = db_with(SALES);
    fill(
        &db,
        "items",
        &[
            r#"{"_id": "pen", "color": "blue"}"#,
            r#"{"_id": "ink", "color": "black"}"#,
        ],
    );
    check(
        &db,
        r#"[{"$match": {"_id": {"$lte": 2}}},
            {"$facet": {"joined": [{"$lookup": {"from": "items", "localField": "item",
                                                "foreignField": "_id", "as": "info"}},
                                   {"$project": {"info.color": 1}}]}}]"#,
        r#"[{"joined": [{"_id": 1, "info": [{"color": "blue"}]}, {"_id": 2, "info": [{"color": "black"}]}]}]"#,
    );
    let pipeline = Pipeline::parse(&json(
        r#"[{"$facet": {"a": [{"$lookup": {"from": "items", "localField": "x", "foreignField": "_id", "as": "y"}}]}}]"#,
    ))
    .unwrap();
    assert_eq!(pipeline.foreign_collections(), vec!["items"]);
}

/// Malformed new stages and where each is reported.
const CASES: &[(&str, &str)] = &[
    (r#"[{"$replaceRoot": "$a"}]"#, "pipeline[0].$replaceRoot"),
    (
        r#"[{"$replaceRoot": {"root": "$a"}}]"#,
        "pipeline[0].$replaceRoot.newRoot",
    ),
    (
        r#"[{"$replaceRoot": {"newRoot": "$"}}]"#,
        "pipeline[0].$replaceRoot.newRoot",
    ),
    (r#"[{"$bucket": 5}]"#, "pipeline[0].$bucket"),
    (
        r#"[{"$bucket": {"boundaries": [0, 1]}}]"#,
        "pipeline[0].$bucket.groupBy",
    ),
    (
        r#"[{"$bucket": {"groupBy": 5, "boundaries": [0, 1]}}]"#,
        "pipeline[0].$bucket.groupBy",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a"}}]"#,
        "pipeline[0].$bucket.boundaries",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [0]}}]"#,
        "pipeline[0].$bucket.boundaries",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [0, 0]}}]"#,
        "pipeline[0].$bucket.boundaries[1]",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [5, 1]}}]"#,
        "pipeline[0].$bucket.boundaries[1]",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [0, "x"]}}]"#,
        "pipeline[0].$bucket.boundaries[1]",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [0, 10], "default": 5}}]"#,
        "pipeline[0].$bucket.default",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [0, 10], "output": {"n": 1}}}]"#,
        "pipeline[0].$bucket.output.n",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [0, 10], "output": {"_id": {"$sum": 1}}}}]"#,
        "pipeline[0].$bucket.output._id",
    ),
    (
        r#"[{"$bucket": {"groupBy": "$a", "boundaries": [0, 10], "bogus": 1}}]"#,
        "pipeline[0].$bucket.bogus",
    ),
    (r#"[{"$sortByCount": 5}]"#, "pipeline[0].$sortByCount"),
    (r#"[{"$sortByCount": "city"}]"#, "pipeline[0].$sortByCount"),
    (r#"[{"$facet": {}}]"#, "pipeline[0].$facet"),
    (
        r#"[{"$facet": {"a": {"$limit": 1}}}]"#,
        "pipeline[0].$facet.a",
    ),
    (r#"[{"$facet": {"a.b": []}}]"#, "pipeline[0].$facet.a.b"),
    (
        r#"[{"$facet": {"a": [{"$bogus": 1}]}}]"#,
        "pipeline[0].$facet.a[0].$bogus",
    ),
    (
        r#"[{"$facet": {"a": [{"$facet": {"b": []}}]}}]"#,
        "pipeline[0].$facet.a[0]",
    ),
];

#[test]
fn malformed_new_stages_name_their_place() {
    let db = db_with(SALES);
    for (pipeline, at) in CASES {
        assert_eq!(invalid_at(&db, pipeline), *at, "{pipeline}");
    }
}

#[test]
fn stage_and_boundary_limits_hold_inside_new_stages() {
    let db = db_with(SALES);
    let many = vec![r#"{"$limit": 1}"#; MAX_PIPELINE_STAGES + 1].join(",");
    let facet = format!(r#"[{{"$facet": {{"a": [{many}]}}}}]"#);
    assert_eq!(invalid_at(&db, &facet), "pipeline[0].$facet");
    let bounds: Vec<String> = (0..=MAX_BUCKET_BOUNDARIES).map(|i| i.to_string()).collect();
    let bucket = format!(
        r#"[{{"$bucket": {{"groupBy": "$price", "boundaries": [{}]}}}}]"#,
        bounds.join(",")
    );
    assert_eq!(invalid_at(&db, &bucket), "pipeline[0].$bucket.boundaries");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// `$bucket` and `$sortByCount` agree with a naive model: each value counted in the range
    /// whose lower boundary is the largest not above it.
    #[test]
    fn bucket_and_sort_by_count_match_a_naive_model(
        values in proptest::collection::vec(proptest::option::of(-20i64..40), 0..60),
        mut cuts in proptest::collection::btree_set(-10i64..30, 2..6),
    ) {
        let docs: Vec<String> = values.iter().enumerate().map(|(i, v)| match v {
            Some(v) => format!(r#"{{"_id": {i}, "v": {v}}}"#),
            None => format!(r#"{{"_id": {i}}}"#),
        }).collect();
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let db = db_with(&refs);
        let bounds: Vec<i64> = std::mem::take(&mut cuts).into_iter().collect();

        let mut model: BTreeMap<i64, i64> = BTreeMap::new();
        let mut outside = 0i64;
        for v in &values {
            let lower = v.and_then(|v| {
                let above = bounds.partition_point(|b| *b <= v);
                (above > 0 && above < bounds.len()).then(|| bounds[above - 1])
            });
            match lower {
                Some(lower) => *model.entry(lower).or_default() += 1,
                None => outside += 1,
            }
        }
        let mut expected: Vec<Value> = model.iter().map(|(id, n)| {
            json(&format!(r#"{{"_id": {id}, "count": {n}}}"#))
        }).collect();
        if outside > 0 {
            expected.push(json(&format!(r#"{{"_id": "out", "count": {outside}}}"#)));
        }
        let bounds_json: Vec<String> = bounds.iter().map(i64::to_string).collect();
        let pipeline = format!(
            r#"[{{"$bucket": {{"groupBy": "$v", "boundaries": [{}], "default": "out"}}}}]"#,
            bounds_json.join(",")
        );
        prop_assert_eq!(aggregate(&db, "c", &json(&pipeline)).unwrap(), expected);

        let mut counts: BTreeMap<Option<i64>, i64> = BTreeMap::new();
        for v in &values {
            *counts.entry(*v).or_default() += 1;
        }
        let out = aggregate(&db, "c", &json(r#"[{"$sortByCount": "$v"}]"#)).unwrap();
        prop_assert_eq!(out.len(), counts.len());
        let mut previous = i64::MAX;
        for doc in &out {
            let o = doc.as_object().unwrap();
            let id = match o.get("_id") { Some(Value::Int(v)) => Some(*v), _ => None };
            let n = o.get("count").and_then(Value::as_i64).unwrap();
            prop_assert_eq!(counts.get(&id).copied(), Some(n));
            prop_assert!(n <= previous, "counts must not increase: {:?}", out);
            previous = n;
        }
    }
}
