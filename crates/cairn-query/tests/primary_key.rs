//! The primary-key access path: `_id` equality, `$in` and ranges answered by point reads and
//! key ranges must return exactly what a full scan with the filter returns (ids of every type,
//! floats equal to integers, missing ids, duplicates, other conditions, sort, skip, limit,
//! cursors), be the plan chosen, and serve bulk updates and deletes correctly.

use std::ops::Bound;

use cairn_doc::{DocId, FieldPath, Object, Patch, Value};
use cairn_engine::Database;
use cairn_index::{create_index, IndexSpec};
use cairn_query::find_under_every_plan;
use cairn_query::{delete_many, explain, find, update_many, BulkOptions, Filter, Op, Query};
use proptest::prelude::*;

mod support;
use support::{find_paged, naive, open_memory};

fn uuid(n: u64) -> Value {
    DocId::parse_cli(&format!("00000000-0000-0000-0000-{n:012x}")).to_value()
}

/// Ids of every type, from a small pool so that queries hit and miss.
fn id_value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (-3i64..12).prop_map(Value::Int),
        // NUL and U+0001 probe the escaping of strings in sort keys.
        2 => proptest::collection::vec(prop::sample::select(vec!['a', 'b', '\0', '\u{1}', 'é']), 1..3)
            .prop_map(|cs| Value::String(cs.into_iter().collect())),
        1 => (0u64..4).prop_map(uuid),
    ]
    .boxed()
}

/// Operands: everything an id can be, plus floats (equal to an integer or not), values no id
/// can equal (`null`, `""`, booleans, arrays) and huge floats. Boxed strategies keep the
/// generator's stack frames small in debug builds.
fn operand() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => id_value(),
        2 => (-3i64..12).prop_map(|i| Value::Float(i as f64)),
        1 => (-6i64..24).prop_map(|i| Value::Float(i as f64 / 2.0)),
        1 => Just(Value::Float(f64::INFINITY)),
        1 => Just(Value::Float(9_223_372_036_854_775_808.0)),
        1 => Just(Value::Null),
        1 => Just(Value::String(String::new())),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Array(vec![Value::Int(1)])),
    ]
    .boxed()
}

fn id_path() -> FieldPath {
    FieldPath::parse("_id").unwrap()
}

/// A condition on `_id` the primary key can serve.
fn id_condition() -> BoxedStrategy<Filter> {
    let ops = prop_oneof![
        3 => operand().prop_map(|v| vec![Op::Eq(v)]),
        3 => proptest::collection::vec(operand(), 0..6).prop_map(|vs| vec![Op::In(vs)]),
        1 => operand().prop_map(|v| vec![Op::Gt(v)]),
        1 => operand().prop_map(|v| vec![Op::Lte(v)]),
        2 => (operand(), operand()).prop_map(|(a, b)| vec![Op::Gte(a), Op::Lt(b)]),
        1 => (operand(), proptest::collection::vec(operand(), 0..4))
            .prop_map(|(a, vs)| vec![Op::Gt(a), Op::In(vs)]),
    ];
    ops.prop_map(|ops| Filter::Field(id_path(), ops)).boxed()
}

fn k_condition() -> BoxedStrategy<Filter> {
    (0i64..3)
        .prop_map(|v| Filter::Field(FieldPath::parse("k").unwrap(), vec![Op::Eq(Value::Int(v))]))
        .boxed()
}

/// An `_id` condition, alone or with others (on `k`, or a second `_id` condition), or in an
/// `$or` with a condition on `k` (a union of `_id` points and the index on `k`).
fn filter() -> BoxedStrategy<Filter> {
    let k = k_condition();
    prop_oneof![
        3 => id_condition(),
        2 => (id_condition(), k).prop_map(|(a, b)| Filter::and([a, b])),
        1 => (id_condition(), id_condition()).prop_map(|(a, b)| Filter::and([a, b])),
        1 => (id_condition(), k_condition()).prop_map(|(a, b)| Filter::or([a, b])),
    ]
    .boxed()
}

fn all_documents(db: &Database) -> Vec<(Vec<u8>, Value)> {
    let mut all = Vec::new();
    db.read()
        .unwrap()
        .scan_documents("c", Bound::Unbounded, Bound::Unbounded, |k, d| {
            all.push((k.to_vec(), d));
            Ok::<_, cairn_engine::EngineError>(true)
        })
        .unwrap();
    all
}

fn load(db: &Database, ids: &[(Value, i64)]) {
    db.create_collection("c").unwrap();
    let mut seen = std::collections::HashSet::new();
    for (id, k) in ids {
        if !seen.insert(id.to_json_string()) {
            continue;
        }
        let mut o = Object::new();
        o.insert("_id", id.clone());
        o.insert("k", Value::Int(*k));
        db.insert("c", Value::Object(o)).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn primary_key_answers_equal_a_full_scan(
        ids in proptest::collection::vec((id_value(), 0i64..3), 0..30),
        index_on_k in any::<bool>(),
        filter in filter(),
        sort in 0usize..5,
        limit in proptest::option::of(1usize..6),
        skip in 0usize..3,
    ) {
        let db = open_memory();
        load(&db, &ids);
        if index_on_k {
            create_index(&db, "c", &IndexSpec::btree("k", &["k"]).unwrap(), &mut |_| {}).unwrap();
        }
        let all = all_documents(&db);
        let mut query = Query::new(filter.clone());
        query = match sort {
            1 => query.sort_by("k", false).unwrap(),
            2 => query.sort_by("_id", true).unwrap(),
            3 => query.sort_by("k", true).unwrap().sort_by("_id", false).unwrap(),
            4 => query.sort_by("_id", false).unwrap(),
            _ => query,
        };
        query.skip = skip;
        query.limit = limit;
        let everything = naive(&all, &filter, &query.sort);
        let expected: Vec<Value> = everything.iter().skip(skip).take(limit.unwrap_or(usize::MAX)).cloned().collect();
        let got = find(&db, "c", &query).unwrap();
        prop_assert_eq!(&got.documents, &expected, "filter {:?}", filter);
        let plans = find_under_every_plan(&db, "c", &query).unwrap();
        let is_or = matches!(filter, Filter::Or(_));
        prop_assert!(is_or || plans.iter().any(|(plan, _)| plan.starts_with("primary key")), "{:?}", filter);
        for (plan, result) in plans {
            prop_assert_eq!(&result.documents, &expected, "plan {} filter {:?}", plan, filter);
        }
        // Paging with a cursor yields the same sequence.
        let paged = find_paged(&db, "c", &query, 2);
        prop_assert_eq!(paged, everything.clone());
        prop_assert_eq!(cairn_query::count(&db, "c", &filter).unwrap(), everything.len() as u64);
    }
}

fn filter_json(json: &str) -> Filter {
    Filter::parse(&Value::from_json_expression(json).unwrap()).unwrap()
}

fn numbered(n: i64) -> Database {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for i in 0..n {
        db.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "k": {}}}"#, i % 7)).unwrap(),
        )
        .unwrap();
    }
    db
}

fn executed(e: &cairn_query::Explain, field: &str) -> i64 {
    e.to_value()
        .as_object()
        .and_then(|o| o.get("executed"))
        .and_then(|x| x.as_object())
        .and_then(|x| x.get(field))
        .and_then(|v| v.as_i64())
        .unwrap()
}

#[test]
fn explain_shows_a_primary_key_lookup_for_id_equality() {
    let db = numbered(2_000);
    create_index(
        &db,
        "c",
        &IndexSpec::btree("k", &["k"]).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    let e = explain(&db, "c", &Query::new(filter_json(r#"{"_id": 5, "k": 5}"#))).unwrap();
    assert_eq!(e.chosen.description, "primary key (_id = 5)");
    assert_eq!(executed(&e, "keys_examined"), 1);
    assert_eq!(executed(&e, "docs_examined"), 1);
    assert_eq!(e.returned, 1);
    assert!(e.considered.iter().any(|p| p.description == "full scan"));

    // Duplicates and a float equal to an integer are one id; 1.5 and `true` are none; "x" is
    // a valid id that does not exist.
    let e = explain(
        &db,
        "c",
        &Query::new(filter_json(
            r#"{"_id": {"$in": [1, 2, 2, 5.0, 5, 1.5, true, "x"]}}"#,
        )),
    )
    .unwrap();
    assert_eq!(e.chosen.description, "primary key (_id in 4 ids)");
    assert_eq!(executed(&e, "keys_examined"), 4);
    assert_eq!(executed(&e, "docs_examined"), 3);
    assert_eq!(e.returned, 3);

    // An `$or` branch on `_id` joins a union as point reads.
    let e = explain(
        &db,
        "c",
        &Query::new(filter_json(r#"{"$or": [{"_id": 6}, {"k": 3}]}"#)),
    )
    .unwrap();
    assert!(
        e.chosen
            .description
            .starts_with("union of [primary key (_id = 6)], [index"),
        "{}",
        e.chosen.description
    );
    assert_eq!(
        e.returned,
        1 + (0..2_000).filter(|i| i % 7 == 3).count() as u64
    );

    let e = explain(&db, "c", &Query::new(filter_json(r#"{"_id": 5.5}"#))).unwrap();
    assert!(e.chosen.description.starts_with("primary key (no operand"));
    assert_eq!(executed(&e, "docs_examined"), 0);
    assert_eq!(e.returned, 0);
}

#[test]
fn explain_shows_a_primary_key_range_for_id_bounds() {
    let db = numbered(2_000);
    let e = explain(
        &db,
        "c",
        &Query::new(filter_json(r#"{"_id": {"$gte": 10, "$lt": 20}}"#)),
    )
    .unwrap();
    assert_eq!(
        e.chosen.description,
        "primary key range (int ids, _id >= 10, _id < 20)"
    );
    assert_eq!(executed(&e, "keys_examined"), 10);
    assert_eq!(executed(&e, "docs_examined"), 10);
    assert_eq!(e.returned, 10);

    // A limit stops the range scan early; a cursor resumes inside the range.
    let mut query = Query::new(filter_json(r#"{"_id": {"$gt": 1500}}"#)).limit(3);
    let page = find(&db, "c", &query).unwrap();
    assert_eq!(
        page.stats.docs_examined, 4,
        "one more than the page, to know one follows"
    );
    query.after = page.cursor;
    let next = find(&db, "c", &query).unwrap();
    let ids: Vec<i64> = next
        .documents
        .iter()
        .map(|d| d.as_object().unwrap().get("_id").unwrap().as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1504, 1505, 1506]);

    // An ascending `_id` sort over an int range needs no sort: the scan stops early too.
    let sorted = Query::new(filter_json(r#"{"_id": {"$gt": 1500}}"#))
        .sort_by("_id", false)
        .unwrap()
        .limit(3);
    let page = find(&db, "c", &sorted).unwrap();
    assert_eq!(page.stats.docs_examined, 4);
}

#[test]
fn bulk_updates_and_deletes_by_id_touch_exactly_the_matches() {
    let db = numbered(200);
    let report = update_many(
        &db,
        "c",
        &filter_json(r#"{"_id": {"$in": [3, 4.0, 4, 500, "3"]}}"#),
        &Patch::from_json_str(r#"{"$set": {"hit": true}}"#).unwrap(),
        &BulkOptions::default(),
    )
    .unwrap();
    assert_eq!((report.matched, report.changed), (2, 2));
    let hit = find(&db, "c", &Query::new(filter_json(r#"{"hit": true}"#))).unwrap();
    assert_eq!(hit.documents.len(), 2);

    // A range combined with another condition: ids 100..=149 with k == 0.
    let report = delete_many(
        &db,
        "c",
        &filter_json(r#"{"_id": {"$gte": 100, "$lte": 149.5}, "k": 0}"#),
        &BulkOptions::default(),
    )
    .unwrap();
    let expected = (100..150).filter(|i| i % 7 == 0).count() as u64;
    assert_eq!((report.matched, report.changed), (expected, expected));
    assert_eq!(
        cairn_query::count(&db, "c", &Filter::All).unwrap(),
        200 - expected
    );
    let left = cairn_query::count(
        &db,
        "c",
        &filter_json(r#"{"_id": {"$gte": 100, "$lt": 150}}"#),
    )
    .unwrap();
    assert_eq!(left, 50 - expected);
}
