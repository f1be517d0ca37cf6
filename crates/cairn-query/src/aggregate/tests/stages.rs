//! `$match`, `$project`, `$addFields`, `$sort`, `$skip`, `$limit`, `$unwind`, `$count`, and the
//! typed builder.

use super::{check, db_with, index, json};
use crate::aggregate::{Accumulator, Expr, Group, Pipeline, Unwind};
use crate::filter::Filter;
use crate::query::parse_sort;

const PEOPLE: &[&str] = &[
    r#"{"_id": 1, "name": "ann", "age": 31, "address": {"city": "Oslo", "zip": "0150"}, "tags": ["a", "b"]}"#,
    r#"{"_id": 2, "name": "bob", "age": 25, "address": {"city": "Bergen", "zip": "5003"}, "tags": []}"#,
    r#"{"_id": 3, "name": "cy", "age": 40, "tags": "solo"}"#,
    r#"{"_id": 4, "name": "di", "age": 25, "tags": null}"#,
];

#[test]
fn leading_match_filters_with_and_without_an_index() {
    let db = db_with(PEOPLE);
    let pipeline = r#"[{"$match": {"age": {"$gte": 30}}}, {"$match": {"name": {"$ne": "cy"}}}, {"$project": {"name": 1}}]"#;
    check(&db, pipeline, r#"[{"_id": 1, "name": "ann"}]"#);
    index(&db, "c", "age");
    check(&db, pipeline, r#"[{"_id": 1, "name": "ann"}]"#);
}

#[test]
fn match_after_other_stages_filters_their_output() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$project": {"years": "$age"}}, {"$match": {"years": {"$lt": 30}}}, {"$sort": {"_id": 1}}]"#,
        r#"[{"_id": 2, "years": 25}, {"_id": 4, "years": 25}]"#,
    );
}

#[test]
fn project_includes_nested_fields_and_computes_references_and_literals() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$match": {"_id": 1}}, {"$project": {"_id": 0, "name": 1, "address.city": 1, "city": "$address.city",
            "five": {"$literal": 5}, "label": "fixed", "pair": ["$age", "$nope"], "gone": "$nope"}}]"#,
        r#"[{"name": "ann", "address": {"city": "Oslo"}, "city": "Oslo", "five": 5, "label": "fixed", "pair": [31, null]}]"#,
    );
    check(
        &db,
        r#"[{"$match": {"_id": 1}}, {"$project": {"address": {"city": 1}}}]"#,
        r#"[{"_id": 1, "address": {"city": "Oslo"}}]"#,
    );
    check(
        &db,
        r#"[{"$match": {"_id": 1}}, {"$project": {"c": "$address.city"}}]"#,
        r#"[{"_id": 1, "c": "Oslo"}]"#,
    );
    check(
        &db,
        r#"[{"$match": {"_id": 1}}, {"$project": {"_id": 1}}]"#,
        r#"[{"_id": 1}]"#,
    );
    check(
        &db,
        r#"[{"$match": {"_id": 3}}, {"$project": {"whole": "$$ROOT", "_id": 0}}]"#,
        r#"[{"whole": {"_id": 3, "name": "cy", "age": 40, "tags": "solo"}}]"#,
    );
}

#[test]
fn project_exclusion_removes_fields_and_keeps_the_rest() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$match": {"_id": 1}}, {"$project": {"tags": 0, "address.zip": 0}}]"#,
        r#"[{"_id": 1, "name": "ann", "age": 31, "address": {"city": "Oslo"}}]"#,
    );
    check(
        &db,
        r#"[{"$match": {"_id": 4}}, {"$project": {"_id": 0}}]"#,
        r#"[{"name": "di", "age": 25, "tags": null}]"#,
    );
}

#[test]
fn add_fields_computes_fields_and_keeps_the_document() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$match": {"_id": 2}}, {"$addFields": {"years": "$age", "address.country": "NO", "age": 26, "gone": "$nope"}}]"#,
        r#"[{"_id": 2, "name": "bob", "age": 26, "address": {"city": "Bergen", "zip": "5003", "country": "NO"}, "tags": [], "years": 25}]"#,
    );
    check(
        &db,
        r#"[{"$match": {"_id": 4}}, {"$set": {"n": {"$literal": "$x"}}}, {"$project": {"n": 1, "_id": 0}}]"#,
        r#"[{"n": "$x"}]"#,
    );
}

#[test]
fn sort_orders_by_several_keys_and_is_stable() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$sort": {"age": -1, "name": 1}}, {"$project": {"_id": 1}}]"#,
        r#"[{"_id": 3}, {"_id": 1}, {"_id": 2}, {"_id": 4}]"#,
    );
    // Equal ages keep the order the previous sort gave them.
    check(
        &db,
        r#"[{"$sort": {"_id": -1}}, {"$sort": {"age": 1}}, {"$project": {"_id": 1}}]"#,
        r#"[{"_id": 4}, {"_id": 2}, {"_id": 1}, {"_id": 3}]"#,
    );
    // A missing field sorts as null: first ascending.
    check(
        &db,
        r#"[{"$sort": {"address.city": 1, "_id": 1}}, {"$project": {"_id": 1}}]"#,
        r#"[{"_id": 3}, {"_id": 4}, {"_id": 2}, {"_id": 1}]"#,
    );
}

#[test]
fn sort_with_skip_and_limit_keeps_the_top_documents() {
    let docs: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"_id": {i}, "v": {}}}"#, (i * 37) % 101))
        .collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let db = db_with(&refs);
    let full = crate::aggregate::aggregate(&db, "c", &json(r#"[{"$sort": {"v": -1}}]"#)).unwrap();
    for (skip, limit) in [(0, 1), (0, 7), (5, 10), (195, 10), (300, 2)] {
        let pipeline =
            format!(r#"[{{"$sort": {{"v": -1}}}}, {{"$skip": {skip}}}, {{"$limit": {limit}}}]"#);
        let top = crate::aggregate::aggregate(&db, "c", &json(&pipeline)).unwrap();
        let expected: Vec<_> = full.iter().skip(skip).take(limit).cloned().collect();
        assert_eq!(top, expected, "{pipeline}");
    }
}

#[test]
fn skip_and_limit_page_through_a_stream() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$sort": {"_id": 1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"_id": 1}}]"#,
        r#"[{"_id": 2}, {"_id": 3}]"#,
    );
    check(&db, r#"[{"$skip": 10}]"#, "[]");
    let limited = crate::aggregate::aggregate(&db, "c", &json(r#"[{"$limit": 3}]"#)).unwrap();
    assert_eq!(limited.len(), 3);
}

#[test]
fn unwind_emits_one_document_per_element() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$sort": {"_id": 1}}, {"$unwind": "$tags"}, {"$project": {"tags": 1}}]"#,
        r#"[{"_id": 1, "tags": "a"}, {"_id": 1, "tags": "b"}, {"_id": 3, "tags": "solo"}]"#,
    );
}

#[test]
fn unwind_can_preserve_null_and_empty_arrays_and_number_elements() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$sort": {"_id": 1}}, {"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": true, "includeArrayIndex": "i"}},
            {"$project": {"tags": 1, "i": 1}}]"#,
        r#"[{"_id": 1, "tags": "a", "i": 0}, {"_id": 1, "tags": "b", "i": 1}, {"_id": 2, "i": null},
            {"_id": 3, "tags": "solo", "i": null}, {"_id": 4, "tags": null, "i": null}]"#,
    );
}

#[test]
fn unwind_then_limit_stops_midway_through_an_array() {
    let db = db_with(&[r#"{"_id": 1, "xs": [1, 2, 3, 4, 5]}"#]);
    check(
        &db,
        r#"[{"$unwind": "$xs"}, {"$limit": 2}, {"$project": {"xs": 1, "_id": 0}}]"#,
        r#"[{"xs": 1}, {"xs": 2}]"#,
    );
}

#[test]
fn count_stage_counts_documents_and_returns_none_for_none() {
    let db = db_with(PEOPLE);
    check(
        &db,
        r#"[{"$match": {"age": 25}}, {"$count": "n"}]"#,
        r#"[{"n": 2}]"#,
    );
    check(&db, r#"[{"$match": {"age": 99}}, {"$count": "n"}]"#, "[]");
    check(
        &db,
        r#"[{"$unwind": "$tags"}, {"$count": "n"}]"#,
        r#"[{"n": 3}]"#,
    );
}

#[test]
fn empty_pipeline_returns_every_document() {
    let db = db_with(PEOPLE);
    assert_eq!(
        crate::aggregate::aggregate(&db, "c", &json("[]"))
            .unwrap()
            .len(),
        PEOPLE.len()
    );
}

#[test]
fn builder_matches_the_json_pipeline() {
    let db = db_with(PEOPLE);
    let built = Pipeline::new()
        .filter(Filter::field("age").unwrap().lt(35))
        .group(
            Group::by(Expr::field("age").unwrap())
                .with("n", Accumulator::count())
                .unwrap(),
        )
        .sort(parse_sort(&json(r#"{"_id": -1}"#)).unwrap())
        .unwind(
            Unwind::new("missing")
                .unwrap()
                .preserve_null_and_empty(true),
        )
        .limit(5)
        .count("groups")
        .unwrap()
        .run(&db, "c")
        .unwrap();
    assert_eq!(Value::Array(built).to_json_string(), r#"[{"groups":2}]"#);
    let parsed = Pipeline::parse(&json(
        r#"[{"$match": {"age": {"$lt": 35}}}, {"$group": {"_id": "$age", "n": {"$count": {}}}}, {"$sort": {"_id": -1}}]"#,
    ))
    .unwrap();
    check(
        &db,
        r#"[{"$match": {"age": {"$lt": 35}}}, {"$group": {"_id": "$age", "n": {"$count": {}}}}, {"$sort": {"_id": -1}}]"#,
        &Value::Array(parsed.run(&db, "c").unwrap()).to_json_string(),
    );
    assert_eq!(parsed.stages().len(), 3);
}

use cairn_doc::Value;
