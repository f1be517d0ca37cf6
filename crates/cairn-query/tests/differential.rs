//! Differential tests: every query answered through the planner (with random index sets)
//! must equal a naive evaluation over every document.

use cairn_doc::{Object, Value};
use cairn_index::{create_index, IndexKind, IndexSpec};
use cairn_query::{answers_under_every_plan, find_under_every_plan, find_under_every_plan_in};
use cairn_query::{find, Filter, Query};
use proptest::prelude::*;

mod support;
use support::{find_paged, naive, naive_distinct, open_memory};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..4).prop_map(Value::Int),
        (-3i64..4).prop_map(|i| Value::Float(i as f64 / 2.0)),
        "[ab]{0,2}".prop_map(Value::String),
    ]
}

fn field_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        5 => scalar().prop_map(Some),
        2 => proptest::collection::vec(scalar(), 0..3).prop_map(|v| Some(Value::Array(v))),
    ]
}

fn document() -> impl Strategy<Value = Value> {
    let b_scalar = prop_oneof![1 => Just(None), 4 => scalar().prop_map(Some)];
    (field_value(), b_scalar, field_value(), field_value()).prop_map(|(a, b, c, tags)| {
        let mut o = Object::new();
        if let Some(a) = a {
            o.insert("a", a);
        }
        if let Some(b) = b {
            o.insert("b", b);
        }
        if let Some(c) = c {
            let mut n = Object::new();
            n.insert("c", c);
            o.insert("n", Value::Object(n));
        }
        if let Some(tags) = tags {
            o.insert("tags", tags);
        }
        Value::Object(o)
    })
}

const FIELDS: [&str; 4] = ["a", "b", "n.c", "tags"];

fn json(v: &Value) -> String {
    v.to_json_string()
}

fn condition() -> impl Strategy<Value = String> {
    (0..FIELDS.len(), scalar(), scalar(), 0..13usize).prop_map(|(f, x, y, op)| {
        let f = FIELDS[f];
        let (x, y) = (json(&x), json(&y));
        match op {
            0 => format!(r#"{{"{f}": {x}}}"#),
            1 => format!(r#"{{"{f}": {{"$ne": {x}}}}}"#),
            2 => format!(r#"{{"{f}": {{"$gt": {x}}}}}"#),
            3 => format!(r#"{{"{f}": {{"$gte": {x}, "$lt": {y}}}}}"#),
            4 => format!(r#"{{"{f}": {{"$lte": {x}}}}}"#),
            5 => format!(r#"{{"{f}": {{"$in": [{x}, {y}]}}}}"#),
            6 => format!(r#"{{"{f}": {{"$nin": [{x}]}}}}"#),
            7 => format!(r#"{{"{f}": {{"$exists": true}}}}"#),
            8 => format!(r#"{{"{f}": {{"$lt": {x}}}}}"#),
            12 => format!(r#"{{"{f}": {{"$not": {{"$lt": {x}}}}}}}"#),
            9 => format!(r#"{{"{f}": {{"$size": 2}}}}"#),
            10 => format!(r#"{{"{f}": {{"$elemMatch": {{"$gte": {x}}}}}}}"#),
            _ => format!(r#"{{"{f}": {{"$all": [{x}]}}}}"#),
        }
    })
}

/// Mostly single conditions and conjunctions (what indexes serve), sometimes deeper logic.
fn filter() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => condition(),
        2 => (condition(), condition()).prop_map(|(x, y)| format!(r#"{{"$and": [{x}, {y}]}}"#)),
        1 => (condition(), condition()).prop_map(|(x, y)| format!(r#"{{"$or": [{x}, {y}]}}"#)),
        2 => nested_filter(),
    ]
}

fn nested_filter() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![Just("{}".to_string()), condition()];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..3)
                .prop_map(|fs| format!(r#"{{"$and": [{}]}}"#, fs.join(","))),
            proptest::collection::vec(inner.clone(), 1..3)
                .prop_map(|fs| format!(r#"{{"$or": [{}]}}"#, fs.join(","))),
            proptest::collection::vec(inner, 1..2)
                .prop_map(|fs| format!(r#"{{"$nor": [{}]}}"#, fs.join(","))),
        ]
    })
}

/// A B-tree index on every field (b is never an array, so its index is not multikey), plus
/// random composite and hash indexes.
fn index_set() -> impl Strategy<Value = Vec<IndexSpec>> {
    proptest::collection::vec((0..FIELDS.len(), 0..FIELDS.len(), 0..3usize), 0..4).prop_map(|raw| {
        let singles = FIELDS.iter().enumerate().filter_map(|(i, f)| {
            IndexSpec::new(&format!("s{i}"), &[f], IndexKind::BTree, false).ok()
        });
        singles
            .chain(raw.into_iter().enumerate().filter_map(|(i, (f, g, kind))| {
                let name = format!("i{i}");
                match kind {
                    0 => IndexSpec::new(&name, &[FIELDS[f]], IndexKind::BTree, false).ok(),
                    1 => {
                        IndexSpec::new(&name, &[FIELDS[f], FIELDS[g]], IndexKind::BTree, false).ok()
                    }
                    _ => IndexSpec::new(&name, &[FIELDS[f]], IndexKind::Hash, false).ok(),
                }
            }))
            .collect()
    })
}

fn sort() -> impl Strategy<Value = Vec<(usize, bool)>> {
    proptest::collection::vec((0..FIELDS.len(), any::<bool>()), 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn planner_answers_equal_a_full_scan(
        docs in proptest::collection::vec(document(), 0..40),
        specs in index_set(),
        filter_json in filter(),
        sort_spec in sort(),
        limit in proptest::option::of(1usize..8),
        skip in 0usize..3,
        distinct_field in 0..FIELDS.len(),
    ) {
        let db = open_memory();
        db.create_collection("c").unwrap();
        for (i, d) in docs.iter().enumerate() {
            let mut d = d.clone();
            if let Value::Object(o) = &mut d { o.insert("_id", Value::Int(i as i64)); }
            db.insert("c", d).unwrap();
        }
        let mut names = std::collections::HashSet::new();
        for spec in &specs {
            if names.insert(spec.name.clone()) {
                create_index(&db, "c", spec, &mut |_| {}).unwrap();
            }
        }
        let mut all = Vec::new();
        db.read().unwrap().scan_documents("c", std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, |k, d| {
            all.push((k.to_vec(), d));
            Ok::<_, cairn_engine::EngineError>(true)
        }).unwrap();
        let filter = Filter::parse(&Value::from_json_expression(&filter_json).unwrap()).unwrap();
        let mut query = Query::new(filter.clone());
        for (f, desc) in &sort_spec {
            query = query.sort_by(FIELDS[*f], *desc).unwrap();
        }
        query.skip = skip;
        query.limit = limit;
        let expected: Vec<Value> = naive(&all, &filter, &query.sort).into_iter().skip(skip).take(limit.unwrap_or(usize::MAX)).collect();
        let got = find(&db, "c", &query).unwrap();
        prop_assert_eq!(&got.documents, &expected, "filter {} sort {:?}", filter_json, sort_spec);
        for (plan, result) in find_under_every_plan(&db, "c", &query).unwrap() {
            prop_assert_eq!(&result.documents, &expected, "plan {} filter {} sort {:?}", plan, filter_json, sort_spec);
        }
        // Paging through with a cursor yields the same sequence.
        let paged = find_paged(&db, "c", &query, 3);
        let everything = naive(&all, &filter, &query.sort);
        prop_assert_eq!(paged, everything);
        let matching = all.iter().filter(|(_, d)| filter.matches(d)).count() as u64;
        prop_assert_eq!(cairn_query::count(&db, "c", &filter).unwrap(), matching);
        // `count` and `distinct` under every plan too: each has its own entry point into
        // the executor, and each must agree with the naive answer.
        let field = FIELDS[distinct_field];
        let distinct = naive_distinct(&all, &filter, field);
        prop_assert_eq!(&cairn_query::distinct(&db, "c", field, &filter).unwrap(), &distinct);
        for answers in answers_under_every_plan(&db, "c", &query, field).unwrap() {
            prop_assert_eq!(&answers.found.documents, &expected, "plan {} filter {}", answers.plan, filter_json);
            prop_assert_eq!(answers.count, matching, "count, plan {} filter {}", answers.plan, filter_json);
            prop_assert_eq!(&answers.distinct, &distinct, "distinct of {}, plan {} filter {}", field, answers.plan, filter_json);
        }
    }
}

#[test]
fn cursor_pages_stay_correct_while_documents_are_inserted() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for i in 0..100i64 {
        db.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "k": {}}}"#, i % 10)).unwrap(),
        )
        .unwrap();
    }
    create_index(
        &db,
        "c",
        &IndexSpec::btree("k", &["k"]).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    let mut query = Query::new(Filter::All)
        .sort_by("k", false)
        .unwrap()
        .limit(7);
    let mut seen = Vec::new();
    let mut next_id = 1000i64;
    loop {
        let page = find(&db, "c", &query).unwrap();
        seen.extend(page.documents.iter().map(|d| {
            (
                d.as_object().unwrap().get("k").unwrap().as_i64().unwrap(),
                d.as_object().unwrap().get("_id").unwrap().as_i64().unwrap(),
            )
        }));
        // Insert before and after the cursor position between pages.
        for k in [0, 9] {
            db.insert(
                "c",
                Value::from_json_str(&format!(r#"{{"_id": {next_id}, "k": {k}}}"#)).unwrap(),
            )
            .unwrap();
            next_id += 1;
        }
        match page.cursor {
            Some(c) => query.after = Some(c),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "pages are in order with no duplicates");
    for i in 0..100 {
        assert!(seen.contains(&(i % 10, i)), "original document {i} missing");
    }
}

/// A composite index on `(k, b)` orders documents that tie on `k` by `b`; a sort on `k` alone
/// orders them by `_id`. The planner must not let the index provide the shorter sort.
#[test]
fn a_composite_index_does_not_provide_a_sort_on_its_prefix_alone() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for (id, b) in [(0, 5), (1, 1), (2, 3)] {
        db.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {id}, "k": 1, "b": {b}}}"#)).unwrap(),
        )
        .unwrap();
    }
    create_index(
        &db,
        "c",
        &IndexSpec::new("kb", &["k", "b"], IndexKind::BTree, false).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    let query = Query::new(Filter::All).sort_by("k", false).unwrap();
    let ids = |docs: &[Value]| -> Vec<i64> {
        docs.iter()
            .map(|d| d.as_object().unwrap().get("_id").unwrap().as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&find(&db, "c", &query).unwrap().documents), [0, 1, 2]);
    for (plan, result) in find_under_every_plan(&db, "c", &query).unwrap() {
        assert_eq!(ids(&result.documents), [0, 1, 2], "plan {plan}");
    }
}

/// A descending sort on an indexed field is served by reading the index backwards (explain
/// says so, and the plan examines only what the page needs), with ties in `_id` order even
/// where a run of equal values crosses the batches the executor reads keys in; also inside a
/// write transaction, where the backward read merges pending writes.
#[test]
fn a_descending_sort_reads_the_index_backwards() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let doc = |id: i64| {
        Value::from_json_str(&format!(
            r#"{{"_id": {id}, "k": {}, "b": {}}}"#,
            id % 7,
            id % 3
        ))
        .unwrap()
    };
    for id in 0..300 {
        db.insert("c", doc(id)).unwrap();
    }
    for spec in [
        IndexSpec::btree("k", &["k"]).unwrap(),
        IndexSpec::new("bk", &["b", "k"], IndexKind::BTree, false).unwrap(),
    ] {
        create_index(&db, "c", &spec, &mut |_| {}).unwrap();
    }
    let ids = |docs: &[Value]| -> Vec<i64> {
        docs.iter()
            .map(|d| d.as_object().unwrap().get("_id").unwrap().as_i64().unwrap())
            .collect()
    };
    // The reference: k descending, ties by _id ascending.
    let mut expected: Vec<i64> = (0..300).collect();
    expected.sort_by_key(|id| (std::cmp::Reverse(id % 7), *id));
    let query = Query::new(Filter::All)
        .sort_by("k", true)
        .unwrap()
        .limit(100);
    let explain = cairn_query::explain(&db, "c", &query).unwrap();
    assert!(
        explain
            .chosen
            .description
            .contains("provides sort, backward"),
        "{}",
        explain.chosen.description
    );
    assert_eq!(
        explain.executed.docs_examined, 101,
        "one more than the page"
    );
    assert_eq!(
        ids(&find(&db, "c", &query).unwrap().documents),
        &expected[..100]
    );
    // Equality on the composite index's first field, descending on the second.
    let filter = Filter::parse(&Value::from_json_expression(r#"{"b": 1}"#).unwrap()).unwrap();
    let by_k = Query::new(filter).sort_by("k", true).unwrap();
    let mut want: Vec<i64> = (0..300).filter(|id| id % 3 == 1).collect();
    want.sort_by_key(|id| (std::cmp::Reverse(id % 7), *id));
    let explain = cairn_query::explain(&db, "c", &by_k).unwrap();
    assert!(
        explain.chosen.description.contains("`bk`")
            && explain.chosen.description.contains("backward"),
        "{}",
        explain.chosen.description
    );
    assert_eq!(ids(&find(&db, "c", &by_k).unwrap().documents), want);
    // Pending writes of a transaction are merged into the backward read.
    let mut txn = db.begin().unwrap();
    for id in 300..340 {
        txn.insert("c", doc(id)).unwrap();
    }
    txn.delete("c", &cairn_doc::DocId::Int(6)).unwrap();
    let mut expected: Vec<i64> = (0..340).filter(|id| *id != 6).collect();
    expected.sort_by_key(|id| (std::cmp::Reverse(id % 7), *id));
    for (plan, result) in find_under_every_plan_in(&mut txn, "c", &query).unwrap() {
        assert_eq!(ids(&result.documents), &expected[..100], "plan {plan}");
    }
}

/// Equality on a field whose index holds no arrays decides the filter: a query keeping only
/// `_id` is answered from the index without reading a document, and `count` agrees with a
/// scan; on a multikey index, or for `null` (an empty array reaches no value and is indexed as
/// null), every document is still read and re-checked.
#[test]
fn equality_on_a_plain_index_is_answered_from_its_keys() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for id in 0..200i64 {
        let text = match id % 4 {
            0 => format!(
                r#"{{"_id": {id}, "k": {}, "t": [{}], "n": []}}"#,
                id % 10,
                id % 3
            ),
            1 => format!(r#"{{"_id": {id}, "k": {}.0, "t": {}}}"#, id % 10, id % 3),
            _ => format!(
                r#"{{"_id": {id}, "k": {}, "t": {}, "n": {{"c": null}}}}"#,
                id % 10,
                id % 3
            ),
        };
        db.insert("c", Value::from_json_str(&text).unwrap())
            .unwrap();
    }
    for field in ["k", "t", "n.c"] {
        let name = format!("by_{}", field.replace('.', "_"));
        let spec = IndexSpec::btree(&name, &[field]).unwrap();
        create_index(&db, "c", &spec, &mut |_| {}).unwrap();
    }
    let projection =
        cairn_query::Projection::parse(&Value::from_json_expression(r#"{"_id": 1}"#).unwrap())
            .unwrap();
    for (filter, from_keys) in [
        (r#"{"k": 2}"#, true),
        (r#"{"k": {"$in": [1, 3.0]}}"#, true),
        (r#"{"t": 1}"#, false),
        (r#"{"n.c": null}"#, false),
    ] {
        let parsed = Filter::parse(&Value::from_json_expression(filter).unwrap()).unwrap();
        let mut query = Query::new(parsed.clone());
        query.projection = Some(projection.clone());
        let explain = cairn_query::explain(&db, "c", &query).unwrap();
        assert!(
            !from_keys || explain.chosen.description.contains("index equality"),
            "{filter}: {}",
            explain.chosen.description
        );
        assert_eq!(explain.executed.docs_examined == 0, from_keys, "{filter}");
        let scanned = {
            let mut n = 0;
            db.read()
                .unwrap()
                .scan_documents(
                    "c",
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Unbounded,
                    |_, d| {
                        n += u64::from(parsed.matches(&d));
                        Ok::<_, cairn_engine::EngineError>(true)
                    },
                )
                .unwrap();
            n
        };
        assert_eq!(explain.returned, scanned, "{filter}");
        assert_eq!(
            cairn_query::count(&db, "c", &parsed).unwrap(),
            scanned,
            "{filter}"
        );
    }
}
