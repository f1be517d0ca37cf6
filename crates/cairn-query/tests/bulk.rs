//! `update_many` and `delete_many`: random operation sequences compared with a reference model
//! (a `BTreeMap` updated by a full scan that evaluates the filter on every document), and the
//! all-or-nothing guarantees: a failure midway, a limit or a dry run leaves no trace.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_doc::{encode_document, DocId, Object, Patch, Value};
use cairn_engine::{Database, EngineError};
use cairn_index::{create_index, IndexKind, IndexSpec};
use cairn_query::find_under_every_plan;
use cairn_query::{delete_many, update_many, BulkOptions, BulkReport, Filter, Query, QueryError};
use proptest::prelude::*;

mod support;
use support::open_memory;

fn doc(json: &str) -> Value {
    Value::from_json_str(json).unwrap()
}

fn filter(json: &str) -> Filter {
    Filter::parse(&Value::from_json_expression(json).unwrap()).unwrap()
}

/// Every document of `c` in `_id` order, as JSON: what an export would hold.
fn export(db: &Database) -> Vec<String> {
    let mut out = Vec::new();
    db.read()
        .unwrap()
        .scan_documents("c", Bound::Unbounded, Bound::Unbounded, |_, d| {
            out.push(d.to_json_string());
            Ok::<_, cairn_engine::EngineError>(true)
        })
        .unwrap();
    out
}

fn encoded(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_document(value, &mut out).unwrap();
    out
}

// ----- the reference model ---------------------------------------------------------------------

/// One step of a random sequence.
#[derive(Debug, Clone)]
enum Step {
    Insert(Value),
    Update {
        filter: String,
        patch: String,
        dry_run: bool,
    },
    Delete {
        filter: String,
        dry_run: bool,
    },
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        (-2i64..4).prop_map(|i| i.to_string()),
        Just("1.5".to_string()),
        Just("\"x\"".to_string()),
    ]
}

fn model_doc() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(scalar()),
        proptest::option::of(scalar()),
        proptest::option::of(proptest::collection::vec(-1i64..2, 0..3)),
    )
        .prop_map(|(a, b, tags)| {
            let mut o = Object::new();
            if let Some(a) = a {
                o.insert("a", Value::from_json_str(&a).unwrap());
            }
            if let Some(b) = b {
                o.insert("b", Value::from_json_str(&b).unwrap());
            }
            if let Some(tags) = tags {
                o.insert(
                    "tags",
                    Value::Array(tags.into_iter().map(Value::Int).collect()),
                );
            }
            Value::Object(o)
        })
}

fn filter_text() -> impl Strategy<Value = String> {
    (0..8usize, scalar(), scalar()).prop_map(|(op, x, y)| match op {
        0 => "{}".to_string(),
        1 => format!(r#"{{"a": {x}}}"#),
        2 => format!(r#"{{"a": {{"$gt": {x}}}}}"#),
        3 => format!(r#"{{"b": {{"$in": [{x}, {y}]}}}}"#),
        4 => r#"{"a": {"$exists": false}}"#.to_string(),
        5 => format!(r#"{{"$or": [{{"a": {x}}}, {{"b": {y}}}]}}"#),
        6 => format!(r#"{{"tags": {x}}}"#),
        _ => format!(r#"{{"a": {{"$gte": {x}}}, "b": {{"$lte": {y}}}}}"#),
    })
}

/// Patches, some of which fail on some documents (`$inc` on a string, `$push` onto a
/// non-array) and some of which change nothing on some documents.
fn patch_text() -> impl Strategy<Value = String> {
    (0..7usize, scalar()).prop_map(|(op, x)| match op {
        0 => format!(r#"{{"$set": {{"a": {x}}}}}"#),
        1 => r#"{"$inc": {"b": 1}}"#.to_string(),
        2 => r#"{"$unset": {"a": ""}}"#.to_string(),
        3 => r#"{"$set": {"b": 1}}"#.to_string(),
        4 => r#"{"$push": {"tags": 1}}"#.to_string(),
        5 => r#"{"$pull": {"tags": 1}}"#.to_string(),
        _ => format!(r#"{{"$set": {{"a": {x}, "c": true}}}}"#),
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => model_doc().prop_map(Step::Insert),
        4 => (filter_text(), patch_text(), any::<bool>()).prop_map(|(filter, patch, dry_run)| {
            Step::Update { filter, patch, dry_run }
        }),
        2 => (filter_text(), any::<bool>()).prop_map(|(filter, dry_run)| Step::Delete { filter, dry_run }),
    ]
}

/// What the model says a step reports: `Some((matched, changed))`, or `None` when some
/// matching document cannot take the patch (the whole call must fail, changing nothing).
fn model_apply(model: &mut BTreeMap<i64, Value>, step: &Step) -> Option<(u64, u64)> {
    match step {
        Step::Insert(_) => unreachable!("inserts are applied directly"),
        Step::Update {
            filter: f,
            patch,
            dry_run,
        } => {
            let (f, patch) = (filter(f), Patch::from_json_str(patch).unwrap());
            let mut next = model.clone();
            let (mut matched, mut changed) = (0, 0);
            for (_, d) in next.iter_mut().filter(|(_, d)| f.matches(d)) {
                matched += 1;
                let mut new = d.clone();
                patch.apply(&mut new).ok()?;
                if encoded(&new) != encoded(d) {
                    changed += 1;
                    *d = new;
                }
            }
            if !dry_run {
                *model = next;
            }
            Some((matched, changed))
        }
        Step::Delete { filter: f, dry_run } => {
            let f = filter(f);
            let before = model.len() as u64;
            let kept: BTreeMap<i64, Value> = model
                .iter()
                .filter(|(_, d)| !f.matches(d))
                .map(|(k, d)| (*k, d.clone()))
                .collect();
            let removed = before - kept.len() as u64;
            if !dry_run {
                *model = kept;
            }
            Some((removed, removed))
        }
    }
}

fn cairn_apply(db: &Database, step: &Step) -> Result<BulkReport, QueryError> {
    match step {
        Step::Insert(_) => unreachable!("inserts are applied directly"),
        Step::Update {
            filter: f,
            patch,
            dry_run,
        } => {
            let options = BulkOptions {
                dry_run: *dry_run,
                ..BulkOptions::default()
            };
            update_many(
                db,
                "c",
                &filter(f),
                &Patch::from_json_str(patch).unwrap(),
                &options,
            )
        }
        Step::Delete { filter: f, dry_run } => {
            let options = BulkOptions {
                dry_run: *dry_run,
                ..BulkOptions::default()
            };
            delete_many(db, "c", &filter(f), &options)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn bulk_updates_and_deletes_match_a_full_scan_model(
        initial in proptest::collection::vec(model_doc(), 0..16),
        steps in proptest::collection::vec(step(), 1..10),
        indexed in any::<bool>(),
    ) {
        let db = open_memory();
        db.create_collection("c").unwrap();
        if indexed {
            // Indexes make the planner find matches through index scans inside the write
            // transaction, and make every write maintain them.
            for (name, field, kind) in [("ia", "a", IndexKind::BTree), ("ib", "b", IndexKind::Hash), ("it", "tags", IndexKind::BTree)] {
                create_index(&db, "c", &IndexSpec::new(name, &[field], kind, false).unwrap(), &mut |_| {}).unwrap();
            }
        }
        let mut model = BTreeMap::new();
        let mut next_id = 0i64;
        for step in initial.into_iter().map(Step::Insert).chain(steps) {
            if let Step::Insert(d) = &step {
                let mut d = d.clone();
                if let Value::Object(o) = &mut d { o.insert("_id", Value::Int(next_id)); }
                db.insert("c", d.clone()).unwrap();
                model.insert(next_id, d);
                next_id += 1;
                continue;
            }
            let seq_before = db.last_seq();
            let expected = model_apply(&mut model, &step);
            let got = cairn_apply(&db, &step);
            match (expected, got) {
                (Some((matched, changed)), Ok(report)) => {
                    prop_assert_eq!((report.matched, report.changed), (matched, changed), "{:?}", step);
                    let wrote = report.seq.is_some();
                    prop_assert_eq!(wrote, changed > 0 && !report.dry_run, "{:?}", step);
                    if !wrote {
                        prop_assert_eq!(db.last_seq(), seq_before);
                    }
                }
                (None, Err(QueryError::Engine(EngineError::Document(_)))) => {
                    prop_assert_eq!(db.last_seq(), seq_before, "a failed call committed");
                }
                (expected, got) => prop_assert!(false, "{:?}: model {:?}, cairn {:?}", step, expected, got),
            }
            let want: Vec<String> = model.values().map(Value::to_json_string).collect();
            prop_assert_eq!(export(&db), want, "after {:?}", step);
        }
        if indexed {
            // The indexes still agree with the documents: every plan answers like a full scan.
            for f in [r#"{"a": {"$gte": 0}}"#, r#"{"b": 1}"#, r#"{"tags": 1}"#] {
                let plans = find_under_every_plan(&db, "c", &Query::new(filter(f))).unwrap();
                let first = &plans[0].1.documents;
                for (plan, result) in &plans {
                    prop_assert_eq!(&result.documents, first, "plan {}", plan);
                }
            }
        }
    }
}

// ----- all or nothing --------------------------------------------------------------------------

/// A collection `c` with documents `_id` 0..n, `{"n": i, "u": i}`, and a unique index on `u`.
fn numbered(n: i64) -> Database {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let unique = IndexSpec::new("u_unique", &["u"], IndexKind::BTree, true).unwrap();
    create_index(&db, "c", &unique, &mut |_| {}).unwrap();
    let mut txn = db.begin().unwrap();
    for i in 0..n {
        txn.insert("c", doc(&format!(r#"{{"_id": {i}, "n": {i}, "u": {i}}}"#)))
            .unwrap();
    }
    txn.commit().unwrap();
    db
}

#[test]
fn a_unique_violation_midway_leaves_no_trace() {
    let db = numbered(10);
    let before = (export(&db), db.last_seq());
    // The first match takes u = 100 (written into the transaction, index entry included);
    // the second then collides with it: the violation comes after a write.
    let patch = Patch::from_json_str(r#"{"$set": {"u": 100}}"#).unwrap();
    let err = update_many(
        &db,
        "c",
        &filter(r#"{"n": {"$gte": 2}}"#),
        &patch,
        &BulkOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, QueryError::Engine(EngineError::UniqueViolation { .. })),
        "{err:?}"
    );
    assert_eq!((export(&db), db.last_seq()), before);
    // The unique index still holds exactly the stored values.
    let found = cairn_query::find(&db, "c", &Query::new(filter(r#"{"u": 100}"#))).unwrap();
    assert!(found.documents.is_empty());
    let found = cairn_query::find(&db, "c", &Query::new(filter(r#"{"u": 2}"#))).unwrap();
    assert_eq!(found.documents.len(), 1);
}

#[test]
fn a_patch_that_fails_on_one_document_writes_nothing() {
    let db = numbered(10);
    db.update(
        "c",
        &DocId::Int(6),
        &Patch::from_json_str(r#"{"$set": {"n": "six"}}"#).unwrap(),
    )
    .unwrap();
    let before = (export(&db), db.last_seq());
    let patch = Patch::from_json_str(r#"{"$inc": {"n": 100}}"#).unwrap();
    let err = update_many(&db, "c", &filter("{}"), &patch, &BulkOptions::default()).unwrap_err();
    assert!(
        matches!(err, QueryError::Engine(EngineError::Document(_))),
        "{err:?}"
    );
    assert_eq!((export(&db), db.last_seq()), before);
    // The dry run reports the same failure.
    let err = update_many(&db, "c", &filter("{}"), &patch, &BulkOptions::dry_run()).unwrap_err();
    assert!(
        matches!(err, QueryError::Engine(EngineError::Document(_))),
        "{err:?}"
    );
}

#[test]
fn more_matches_than_the_limit_is_too_large_and_writes_nothing() {
    let db = numbered(10);
    let before = (export(&db), db.last_seq());
    let options = BulkOptions {
        max_documents: 4,
        ..BulkOptions::default()
    };
    let patch = Patch::from_json_str(r#"{"$set": {"seen": true}}"#).unwrap();
    for result in [
        update_many(&db, "c", &filter(r#"{"n": {"$lt": 5}}"#), &patch, &options),
        delete_many(&db, "c", &filter(r#"{"n": {"$lt": 5}}"#), &options),
    ] {
        match result {
            Err(QueryError::TooLarge { limit, .. }) => assert_eq!(limit, 4),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
    assert_eq!((export(&db), db.last_seq()), before);
    // Exactly at the limit is fine.
    let report = delete_many(&db, "c", &filter(r#"{"n": {"$lt": 4}}"#), &options).unwrap();
    assert_eq!((report.matched, report.changed), (4, 4));
    assert_eq!(export(&db).len(), 6);
}

#[test]
fn a_patch_growing_a_document_past_the_size_limit_writes_nothing() {
    let db = numbered(10);
    let before = (export(&db), db.last_seq());
    let options = BulkOptions {
        max_document_bytes: 64,
        ..BulkOptions::default()
    };
    let big = format!(r#"{{"$set": {{"blob": "{}"}}}}"#, "x".repeat(100));
    let patch = Patch::from_json_str(&big).unwrap();
    match update_many(&db, "c", &filter(r#"{"n": {"$gte": 9}}"#), &patch, &options) {
        Err(QueryError::TooLarge { limit, .. }) => assert_eq!(limit, 64),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!((export(&db), db.last_seq()), before);
}

#[test]
fn a_dry_run_reports_what_the_real_run_does_and_writes_nothing() {
    let db = numbered(10);
    let before = (export(&db), db.last_seq());
    let f = filter(r#"{"n": {"$gte": 5}}"#);
    let patch = Patch::from_json_str(r#"{"$set": {"n": 5}}"#).unwrap();
    let dry = update_many(&db, "c", &f, &patch, &BulkOptions::dry_run()).unwrap();
    assert_eq!(
        (dry.matched, dry.changed, dry.dry_run, dry.seq),
        (5, 4, true, None)
    );
    let dry_delete = delete_many(&db, "c", &f, &BulkOptions::dry_run()).unwrap();
    assert_eq!((dry_delete.matched, dry_delete.changed), (5, 5));
    assert_eq!((export(&db), db.last_seq()), before);

    let real = update_many(&db, "c", &f, &patch, &BulkOptions::default()).unwrap();
    assert_eq!((real.matched, real.changed, real.dry_run), (5, 4, false));
    assert_eq!(real.seq, Some(db.last_seq()));
    // Everything changed in one commit: one sequence number past the previous state.
    assert_eq!(db.last_seq(), before.1 + 1);
    // Again: it matches the same documents and changes none, so no commit is needed.
    let again = update_many(&db, "c", &f, &patch, &BulkOptions::default()).unwrap();
    assert_eq!((again.matched, again.changed, again.seq), (5, 0, None));
}

#[test]
fn an_unknown_collection_is_an_error_even_for_an_empty_filter() {
    let db = open_memory();
    let err = delete_many(&db, "missing", &filter("{}"), &BulkOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            QueryError::Engine(EngineError::UnknownCollection { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn concurrent_bulk_increments_lose_no_update() {
    // Each call reads every document and writes it back incremented; were two calls not
    // serialized, one would overwrite the other's increment.
    let db = numbered(20);
    let (threads, calls) = (3, 8);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let db = db.clone();
            scope.spawn(move || {
                let patch = Patch::from_json_str(r#"{"$inc": {"n": 1}}"#).unwrap();
                for _ in 0..calls {
                    let report =
                        update_many(&db, "c", &filter("{}"), &patch, &BulkOptions::default())
                            .unwrap();
                    assert_eq!((report.matched, report.changed), (20, 20));
                }
            });
        }
    });
    for i in 0..20i64 {
        let doc = db.get("c", &DocId::Int(i)).unwrap().unwrap();
        let n = doc.as_object().unwrap().get("n").unwrap().clone();
        assert_eq!(n, Value::Int(i + threads * calls), "document {i}");
    }
}
