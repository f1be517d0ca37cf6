//! Index maintenance against a rebuild from scratch, uniqueness, and online builds.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_doc::{DocId, Object, Value};
use cairn_engine::{Config, Database, EngineError, StorageMode};
use cairn_index::expected_keys;
use cairn_index::{
    create_index, drop_index, indexes, list_indexes, IndexExtensionKind, IndexKind, IndexSpec,
};
use proptest::prelude::*;

fn open_memory() -> Database {
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(IndexExtensionKind));
    Database::open(config).expect("open")
}

fn specs() -> Vec<IndexSpec> {
    vec![
        IndexSpec::new("a", &["a"], IndexKind::BTree, false).unwrap(),
        IndexSpec::new("a_b", &["a", "n.b"], IndexKind::BTree, false).unwrap(),
        IndexSpec::new("h", &["tags"], IndexKind::Hash, false).unwrap(),
        IndexSpec::new("u", &["u"], IndexKind::BTree, true).unwrap(),
        IndexSpec::new("hu", &["u"], IndexKind::Hash, true).unwrap(),
    ]
}

/// Asserts every index equals a rebuild from the collection's documents.
fn assert_indexes_match(db: &Database) {
    let mut txn = db.read().unwrap();
    let mut docs = Vec::new();
    txn.scan_documents(
        "c",
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        |key, doc| {
            docs.push((key.to_vec(), doc));
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )
    .unwrap();
    for handle in indexes(&mut txn, "c").unwrap() {
        let stored = handle.raw_entries(&mut txn, "c").unwrap();
        let expected = expected_keys(&handle.spec, &docs).unwrap();
        assert_eq!(
            stored, expected,
            "index `{}` differs from a rebuild",
            handle.spec.name
        );
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        (0i64..4).prop_map(Value::Int),
        (0i64..4).prop_map(|i| Value::Float(i as f64 + 0.5)),
        "[xy]{0,2}".prop_map(Value::String),
    ]
}

fn field() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        3 => scalar().prop_map(Some),
        1 => proptest::collection::vec(scalar(), 0..3).prop_map(|v| Some(Value::Array(v))),
    ]
}

fn doc() -> impl Strategy<Value = Value> {
    (field(), field(), field(), proptest::option::of(0i64..6)).prop_map(|(a, b, tags, u)| {
        let mut o = Object::new();
        if let Some(a) = a {
            o.insert("a", a);
        }
        if let Some(b) = b {
            let mut n = Object::new();
            n.insert("b", b);
            o.insert("n", Value::Object(n));
        }
        if let Some(tags) = tags {
            o.insert("tags", tags);
        }
        if let Some(u) = u {
            o.insert("u", Value::Int(u));
        }
        Value::Object(o)
    })
}

#[derive(Debug, Clone)]
enum Write {
    Upsert(i64, Value),
    Delete(i64),
    /// Two writes in one transaction: both or neither.
    Pair(i64, Value, i64, Value),
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        4 => (0i64..12, doc()).prop_map(|(id, d)| Write::Upsert(id, d)),
        1 => (0i64..12).prop_map(Write::Delete),
        1 => (0i64..12, doc(), 0i64..12, doc()).prop_map(|(a, x, b, y)| Write::Pair(a, x, b, y)),
    ]
}

fn with_id(mut doc: Value, id: i64) -> Value {
    if let Value::Object(o) = &mut doc {
        o.insert("_id", Value::Int(id));
    }
    doc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// After any sequence of writes (some refused by unique indexes), every index equals a
    /// rebuild, and the documents equal a model that applies only the accepted writes.
    #[test]
    fn indexes_equal_a_rebuild(writes in proptest::collection::vec(write(), 1..40)) {
        let db = open_memory();
        db.create_collection("c").unwrap();
        for spec in specs() {
            create_index(&db, "c", &spec, &mut |_| {}).unwrap();
        }
        let mut model: BTreeMap<i64, Value> = BTreeMap::new();
        for w in writes {
            let mut txn = db.begin().unwrap();
            let mut next = model.clone();
            let mut apply = |txn: &mut cairn_engine::Transaction, id: i64, doc: Option<Value>| -> Result<(), EngineError> {
                match doc {
                    Some(d) => {
                        txn.upsert("c", with_id(d.clone(), id))?;
                        next.insert(id, with_id(d, id));
                    }
                    None => {
                        txn.delete("c", &DocId::Int(id))?;
                        next.remove(&id);
                    }
                }
                Ok(())
            };
            let outcome = match w {
                Write::Upsert(id, d) => apply(&mut txn, id, Some(d)),
                Write::Delete(id) => apply(&mut txn, id, None),
                Write::Pair(a, x, b, y) => apply(&mut txn, a, Some(x)).and_then(|_| apply(&mut txn, b, Some(y))),
            };
            match outcome {
                Ok(()) => {
                    txn.commit().unwrap();
                    model = next;
                }
                Err(EngineError::UniqueViolation { .. }) => {}
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        assert_indexes_match(&db);
        let mut stored = BTreeMap::new();
        db.for_each("c", |id, d| {
            if let DocId::Int(i) = id { stored.insert(*i, d.clone()); }
            true
        }).unwrap();
        prop_assert_eq!(stored, model);
    }
}

#[test]
fn unique_violation_names_index_value_and_holder_and_leaves_no_trace() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let spec = IndexSpec::new("email", &["email"], IndexKind::BTree, true).unwrap();
    create_index(&db, "c", &spec, &mut |_| {}).unwrap();
    db.insert(
        "c",
        Value::from_json_str(r#"{"_id": 1, "email": "a@x"}"#).unwrap(),
    )
    .unwrap();
    let mut txn = db.begin().unwrap();
    txn.insert(
        "c",
        Value::from_json_str(r#"{"_id": 2, "email": "b@x"}"#).unwrap(),
    )
    .unwrap();
    let err = txn
        .insert(
            "c",
            Value::from_json_str(r#"{"_id": 3, "email": "a@x"}"#).unwrap(),
        )
        .unwrap_err();
    match &err {
        EngineError::UniqueViolation {
            index,
            value,
            existing,
            ..
        } => {
            assert_eq!(index, "email");
            assert_eq!(value, "\"a@x\"");
            assert_eq!(existing, &DocId::Int(1));
        }
        other => panic!("expected a unique violation, got {other}"),
    }
    drop(txn);
    assert!(db.get("c", &DocId::Int(2)).unwrap().is_none());
    assert!(db.get("c", &DocId::Int(3)).unwrap().is_none());
    // Missing and null values are exempt.
    db.insert("c", Value::from_json_str(r#"{"_id": 4}"#).unwrap())
        .unwrap();
    db.insert(
        "c",
        Value::from_json_str(r#"{"_id": 5, "email": null}"#).unwrap(),
    )
    .unwrap();
    assert_indexes_match(&db);
    // A batch with a duplicate stores nothing.
    let batch = [
        cairn_engine::BatchOp::Insert {
            collection: "c".into(),
            doc: Value::from_json_str(r#"{"_id": 6, "email": "c@x"}"#).unwrap(),
        },
        cairn_engine::BatchOp::Insert {
            collection: "c".into(),
            doc: Value::from_json_str(r#"{"_id": 7, "email": "c@x"}"#).unwrap(),
        },
    ];
    assert!(db.batch(&batch).is_err());
    assert!(db.get("c", &DocId::Int(6)).unwrap().is_none());
    assert_indexes_match(&db);
}

#[test]
fn building_a_unique_index_over_duplicates_fails_and_drops_it() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for i in 0..10 {
        db.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "k": {}}}"#, i % 9)).unwrap(),
        )
        .unwrap();
    }
    let spec = IndexSpec::new("k", &["k"], IndexKind::BTree, true).unwrap();
    let err = create_index(&db, "c", &spec, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("unique index `k`"), "{err}");
    assert!(list_indexes(&db, "c").unwrap().is_empty());
}

/// A document rewritten during a build with its indexed value unchanged: the build skips it
/// (it changed after the build's snapshot), so the write hook must have stored its entry
/// even though the entry did not change. Deterministic: the write happens from the build's
/// progress callback, after the snapshot and before any chunk is written.
#[test]
fn a_write_during_the_build_that_keeps_the_indexed_value_keeps_its_entry() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let mut txn = db.begin().unwrap();
    for i in 0..20_000i64 {
        txn.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "a": {}, "b": 0}}"#, i % 7)).unwrap(),
        )
        .unwrap();
    }
    txn.commit().unwrap();
    let spec = IndexSpec::new("a", &["a"], IndexKind::BTree, false).unwrap();
    let mut rewrites = 0;
    create_index(&db, "c", &spec, &mut |_| {
        if rewrites == 0 {
            // Same `a`, another `b`.
            db.upsert(
                "c",
                Value::from_json_str(r#"{"_id": 5, "a": 5, "b": 1}"#).unwrap(),
            )
            .unwrap();
        }
        rewrites += 1;
    })
    .unwrap();
    assert!(rewrites > 0);
    assert_indexes_match(&db);
}

#[test]
fn online_build_under_concurrent_writes_matches_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(
        dir.path(),
        StorageMode::MemoryFirst {
            flush_interval: std::time::Duration::from_millis(50),
        },
    );
    config.extension_kinds.push(Arc::new(IndexExtensionKind));
    let db = Database::open(config).unwrap();
    db.create_collection("c").unwrap();
    let mut txn = db.begin().unwrap();
    for i in 0..30_000i64 {
        txn.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "a": {}, "u": {i}}}"#, i % 97)).unwrap(),
        )
        .unwrap();
    }
    txn.commit().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = (i * 7919) % 40_000;
                let doc = Value::from_json_str(&format!(
                    r#"{{"_id": {id}, "a": {}, "u": {}}}"#,
                    i % 13,
                    100_000 + i
                ))
                .unwrap();
                let _ = db.transaction(|t| t.upsert("c", doc.clone()).map(|_| ()));
                if i % 5 == 0 {
                    let _ = db.delete("c", &DocId::Int((i * 31) % 40_000));
                }
                i += 1;
            }
            i
        })
    };
    let mut reports = 0;
    for spec in [
        IndexSpec::new("a", &["a"], IndexKind::BTree, false).unwrap(),
        IndexSpec::new("u", &["u"], IndexKind::BTree, true).unwrap(),
    ] {
        create_index(&db, "c", &spec, &mut |_| reports += 1).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 0 && reports > 0);
    assert_indexes_match(&db);
    assert!(list_indexes(&db, "c").unwrap().iter().all(|i| i.ready));
    drop_index(&db, "c", "a").unwrap();
    assert_eq!(list_indexes(&db, "c").unwrap().len(), 1);
}

#[test]
fn verification_finds_extra_and_missing_entries() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for i in 0..20i64 {
        db.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "a": {}}}"#, i % 3)).unwrap(),
        )
        .unwrap();
    }
    create_index(
        &db,
        "c",
        &IndexSpec::btree("a", &["a"]).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    let check = |db: &Database| {
        let mut txn = db.read().unwrap();
        let handle = indexes(&mut txn, "c").unwrap().remove(0);
        cairn_index::verify_index(&mut txn, "c", &handle).unwrap()
    };
    assert!(check(&db).is_clean());
    // Damage the index behind the engine's back: a stray entry.
    db.transaction(|t| t.extension_put("c", "a", "entries", b"\x20stray", &[]))
        .unwrap();
    let report = check(&db);
    assert_eq!(report.mismatches, 1);
    assert_eq!(report.extra_entries.len(), 1);
}
