//! Malformed pipelines are rejected with the place of the problem; limits are enforced.

use std::time::Duration;

use super::{db_with, fill, invalid_at, json};
use crate::aggregate::{aggregate, Pipeline};
use crate::error::QueryError;
use crate::limits::MAX_PIPELINE_STAGES;

/// Malformed pipelines and where each is reported: the pipeline and stage shapes.
const SHAPE_CASES: &[(&str, &str)] = &[
    (r#"{"$match": {}}"#, "pipeline"),
    (r#"[{"$match": {}, "$limit": 1}]"#, "pipeline[0]"),
    (r#"[5]"#, "pipeline[0]"),
    (r#"[{"$limit": 1}, {"$bogus": {}}]"#, "pipeline[1].$bogus"),
    (
        r#"[{"$match": {"a": {"$bogus": 1}}}]"#,
        "pipeline[0].$match.a.$bogus",
    ),
    (r#"[{"$match": 5}]"#, "pipeline[0].$match"),
    (r#"[{"$sort": {"a": 2}}]"#, "pipeline[0].$sort.a"),
    (r#"[{"$sort": {}}]"#, "pipeline[0].$sort"),
    (r#"[{"$sort": [1]}]"#, "pipeline[0].$sort"),
    (r#"[{"$limit": 0}]"#, "pipeline[0].$limit"),
    (r#"[{"$limit": "3"}]"#, "pipeline[0].$limit"),
    (r#"[{"$skip": -1}]"#, "pipeline[0].$skip"),
    (r#"[{"$count": ""}]"#, "pipeline[0].$count"),
    (r#"[{"$count": "a.b"}]"#, "pipeline[0].$count"),
    (r#"[{"$count": 1}]"#, "pipeline[0].$count"),
];

/// `$group` specifications.
const GROUP_CASES: &[(&str, &str)] = &[
    (
        r#"[{"$group": {"n": {"$sum": 1}}}]"#,
        "pipeline[0].$group._id",
    ),
    (
        r#"[{"$group": {"_id": null, "total": {"$median": "$a"}}}]"#,
        "pipeline[0].$group.total.$median",
    ),
    (
        r#"[{"$group": {"_id": null, "total": {"$sum": "$a", "$avg": "$a"}}}]"#,
        "pipeline[0].$group.total",
    ),
    (
        r#"[{"$group": {"_id": null, "total": 5}}]"#,
        "pipeline[0].$group.total",
    ),
    (
        r#"[{"$group": {"_id": null, "n": {"$count": 1}}}]"#,
        "pipeline[0].$group.n.$count",
    ),
    (
        r#"[{"$group": {"_id": null, "n": {"$sum": [1, 2]}}}]"#,
        "pipeline[0].$group.n.$sum",
    ),
    (
        r#"[{"$group": {"_id": null, "a.b": {"$sum": 1}}}]"#,
        "pipeline[0].$group.a.b",
    ),
    (
        r#"[{"$group": {"_id": "$a..b"}}]"#,
        "pipeline[0].$group._id",
    ),
    (
        r#"[{"$group": {"_id": {"$add": ["$a", 1]}}}]"#,
        "pipeline[0].$group._id.$add",
    ),
];

/// `$project`, `$addFields` and `$unwind` specifications.
const RESHAPE_CASES: &[(&str, &str)] = &[
    (r#"[{"$unwind": "a"}]"#, "pipeline[0].$unwind"),
    (r#"[{"$unwind": {"path": 5}}]"#, "pipeline[0].$unwind.path"),
    (
        r#"[{"$unwind": {"path": "$a", "preserveNullAndEmptyArrays": 1}}]"#,
        "pipeline[0].$unwind.preserveNullAndEmptyArrays",
    ),
    (
        r#"[{"$unwind": {"path": "$a", "sideways": true}}]"#,
        "pipeline[0].$unwind.sideways",
    ),
    (r#"[{"$project": {}}]"#, "pipeline[0].$project"),
    (
        r#"[{"$project": {"a": 1, "b": 0}}]"#,
        "pipeline[0].$project.b",
    ),
    (
        r#"[{"$project": {"b": 0, "c": "$a"}}]"#,
        "pipeline[0].$project.b",
    ),
    (r#"[{"$project": {"a": 5}}]"#, "pipeline[0].$project.a"),
    (
        r#"[{"$project": {"a": {"$add": [1]}}}]"#,
        "pipeline[0].$project.a.$add",
    ),
    (
        r#"[{"$project": {"a": 1, "a.b": 1}}]"#,
        "pipeline[0].$project.a.b",
    ),
    (r#"[{"$project": {"$a": 1}}]"#, "pipeline[0].$project.$a"),
    (r#"[{"$addFields": {}}]"#, "pipeline[0].$addFields"),
    (r#"[{"$set": {"x": "$$NOW"}}]"#, "pipeline[0].$set.x"),
];

/// `$lookup` specifications.
const LOOKUP_CASES: &[(&str, &str)] = &[
    (
        r#"[{"$lookup": {"from": "x", "localField": "a", "foreignField": "b"}}]"#,
        "pipeline[0].$lookup.as",
    ),
    (
        r#"[{"$lookup": {"from": "", "localField": "a", "foreignField": "b", "as": "c"}}]"#,
        "pipeline[0].$lookup.from",
    ),
    (
        r#"[{"$lookup": {"from": "x", "pipeline": [], "as": "c"}}]"#,
        "pipeline[0].$lookup.pipeline",
    ),
    (
        r#"[{"$lookup": {"from": "x", "localField": "a..", "foreignField": "b", "as": "c"}}]"#,
        "pipeline[0].$lookup.localField",
    ),
];

#[track_caller]
fn assert_places(cases: &[(&str, &str)]) {
    let db = db_with(&[r#"{"_id": 1, "a": 1}"#]);
    for (pipeline, place) in cases {
        assert_eq!(invalid_at(&db, pipeline), *place, "{pipeline}");
    }
}

#[test]
fn malformed_pipelines_and_stages_name_their_place() {
    assert_places(SHAPE_CASES);
}

#[test]
fn malformed_groups_name_the_output_field_and_operator() {
    assert_places(GROUP_CASES);
}

#[test]
fn malformed_reshaping_stages_name_the_field() {
    assert_places(RESHAPE_CASES);
}

#[test]
fn malformed_lookups_name_the_option() {
    assert_places(LOOKUP_CASES);
}

#[test]
fn too_many_stages_are_rejected() {
    let db = db_with(&[]);
    let stages = vec![r#"{"$skip": 0}"#; MAX_PIPELINE_STAGES + 1].join(",");
    assert_eq!(invalid_at(&db, &format!("[{stages}]")), "pipeline");
    let stages = vec![r#"{"$skip": 0}"#; MAX_PIPELINE_STAGES].join(",");
    assert!(aggregate(&db, "c", &json(&format!("[{stages}]"))).is_ok());
    let built = (0..=MAX_PIPELINE_STAGES).fold(Pipeline::new(), |p, _| p.skip(0));
    assert!(matches!(
        built.run(&db, "c"),
        Err(QueryError::Invalid { .. })
    ));
}

#[test]
fn an_exhausted_time_budget_fails_the_pipeline() {
    let db = db_with(&[r#"{"_id": 1, "a": 1}"#]);
    fill(&db, "other", &[r#"{"_id": 1, "a": 1}"#]);
    let pipeline = Pipeline::parse(&json(
        r#"[{"$lookup": {"from": "other", "localField": "a", "foreignField": "a", "as": "x"}}]"#,
    ))
    .unwrap()
    .time_budget(Duration::ZERO);
    assert!(matches!(
        pipeline.run(&db, "c"),
        Err(QueryError::TimedOut { .. })
    ));
}

#[test]
fn an_unknown_collection_is_an_error() {
    let db = db_with(&[]);
    assert!(matches!(
        aggregate(&db, "missing", &json("[]")),
        Err(QueryError::Engine(_) | QueryError::Index(_))
    ));
}

#[test]
fn json_stage_builder_reports_the_stage_position() {
    let err = Pipeline::new()
        .limit(1)
        .json_stage(&json(r#"{"$group": {}}"#))
        .unwrap_err();
    assert!(matches!(err, QueryError::Invalid { at, .. } if at == "pipeline[1].$group._id"));
}

/// Random JSON made of pipeline vocabulary: stage names, operators, paths and small values.
fn pipeline_like() -> impl proptest::strategy::Strategy<Value = cairn_doc::Value> {
    use cairn_doc::{Object, Value};
    use proptest::prelude::*;
    let words = prop::sample::select(vec![
        "$match",
        "$project",
        "$group",
        "$sort",
        "$skip",
        "$limit",
        "$unwind",
        "$count",
        "$lookup",
        "$addFields",
        "$sum",
        "$avg",
        "$min",
        "$max",
        "$push",
        "$addToSet",
        "$first",
        "$literal",
        "_id",
        "a",
        "a.b",
        "$a",
        "$a.b",
        "path",
        "from",
        "localField",
        "foreignField",
        "as",
        "c",
        "preserveNullAndEmptyArrays",
        "$$ROOT",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..5).prop_map(Value::Int),
        words.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..3).prop_map(|fields| Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Object>()
            )),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_pipelines_fail_cleanly_or_run(stages in proptest::collection::vec(pipeline_like(), 0..4)) {
        let db = db_with(&[r#"{"_id": 1, "a": {"b": [1, 2]}}"#, r#"{"_id": 2, "a": 3}"#]);
        fill(&db, "c2", &[]);
        // Whatever the input, the answer is a value or an error, never a panic.
        let _ = aggregate(&db, "c", &cairn_doc::Value::Array(stages));
    }
}
