//! Inference kept from the change log equals a full scan: after random writes, after more
//! writes, after reopening, after the change log was trimmed past it, and after a drop and
//! re-creation of the collection.

use cairn_doc::{DocId, Value};
use cairn_engine::{Config, Database, StorageMode};
use cairn_infer::{infer_schema, InferredSchema, INFERENCE_COLLECTION};
use proptest::prelude::*;

fn config(dir: &std::path::Path, mode: StorageMode, retention: u64) -> Config {
    let mut config = Config::new(dir, mode);
    config.changelog_retention = retention;
    config
}

fn full_scan(db: &Database, collection: &str) -> InferredSchema {
    let mut docs = Vec::new();
    db.for_each(collection, |_, doc| {
        docs.push(doc.clone());
        true
    })
    .unwrap();
    InferredSchema::from_documents(&docs)
}

/// Compares everything but the sequence number (a scan has none).
fn assert_matches_scan(db: &Database, collection: &str) -> Result<(), TestCaseError> {
    let mut inferred = infer_schema(db, collection).unwrap();
    // Current to the last commit, or to just before our own statistics commit.
    prop_assert!(inferred.as_of_seq + 1 >= db.last_seq());
    inferred.as_of_seq = 0;
    prop_assert_eq!(inferred, full_scan(db, collection));
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(i64, u8),
    Delete(i64),
}

/// A few document shapes with overlapping fields of varying types.
fn document(id: i64, shape: u8) -> Value {
    let json = match shape % 6 {
        0 => format!(r#"{{"_id": {id}, "name": "n{id}", "age": {id}}}"#),
        1 => format!(r#"{{"_id": {id}, "name": "n", "age": 1.5, "tags": ["a", {id}]}}"#),
        2 => format!(r#"{{"_id": {id}, "name": null, "addr": {{"city": "c", "zip": {id}}}}}"#),
        3 => format!(r#"{{"_id": {id}, "items": [{{"sku": "s", "qty": 1}}, {{"sku": "t"}}]}}"#),
        4 => format!(r#"{{"_id": {id}, "age": "old", "addr": "somewhere"}}"#),
        _ => format!(r#"{{"_id": {id}}}"#),
    };
    Value::from_json_str(&json).unwrap()
}

fn apply(db: &Database, op: &Op) {
    match op {
        Op::Upsert(id, shape) => {
            db.upsert("people", document(*id, *shape)).unwrap();
        }
        Op::Delete(id) => {
            db.delete("people", &DocId::Int(*id)).unwrap();
        }
    }
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (0i64..15, any::<u8>()).prop_map(|(id, s)| Op::Upsert(id, s)),
            1 => (0i64..15).prop_map(Op::Delete),
        ],
        0..50,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    #[test]
    fn inferred_counts_equal_a_full_scan_after_random_writes_and_reopen(
        before in ops(), between in ops(), after in ops(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::open(config(dir.path(), StorageMode::Persistent, 100_000)).unwrap();
            db.create_collection("people").unwrap();
            db.create_collection("other").unwrap();
            for op in &before {
                apply(&db, op);
            }
            // The first look starts tracking with a scan.
            assert_matches_scan(&db, "people")?;
            for op in &between {
                apply(&db, op);
                db.insert("other", document(1000, 0)).ok();
            }
            assert_matches_scan(&db, "people")?;
            for op in &after {
                apply(&db, op);
            }
        }
        let db = Database::open(config(dir.path(), StorageMode::Persistent, 100_000)).unwrap();
        assert_matches_scan(&db, "people")?;
        assert_matches_scan(&db, "people")?;
    }
}

#[test]
fn a_trimmed_change_log_falls_back_to_a_scan() {
    let db = Database::open(config(std::path::Path::new(""), StorageMode::MemoryOnly, 5)).unwrap();
    db.create_collection("people").unwrap();
    db.insert("people", document(1, 0)).unwrap();
    assert_eq!(infer_schema(&db, "people").unwrap().documents, 1);
    for id in 2..40 {
        db.insert("people", document(id, id as u8)).unwrap();
    }
    db.delete("people", &DocId::Int(3)).unwrap();
    let mut inferred = infer_schema(&db, "people").unwrap();
    inferred.as_of_seq = 0;
    assert_eq!(inferred, full_scan(&db, "people"));
    assert_eq!(inferred.documents, 38);
}

#[test]
fn a_dropped_collection_never_lends_its_statistics_and_they_are_cleaned_up() {
    let db = Database::open(config(
        std::path::Path::new(""),
        StorageMode::MemoryOnly,
        1000,
    ))
    .unwrap();
    db.create_collection("people").unwrap();
    db.insert("people", document(1, 1)).unwrap();
    infer_schema(&db, "people").unwrap();
    db.drop_collection("people").unwrap();
    db.create_collection("people").unwrap();
    db.insert("people", document(2, 5)).unwrap();
    let inferred = infer_schema(&db, "people").unwrap();
    assert_eq!(inferred.documents, 1);
    assert_eq!(inferred.fields.keys().collect::<Vec<_>>(), ["_id"]);
    let mut tracked = Vec::new();
    db.for_each(INFERENCE_COLLECTION, |id, _| {
        tracked.push(id.clone());
        true
    })
    .unwrap();
    assert_eq!(
        tracked.len(),
        1,
        "the dropped collection's statistics are gone"
    );
}

#[test]
fn looking_at_a_schema_changes_no_catalog_entry_so_incremental_backups_replay() {
    let db = Database::open(config(
        std::path::Path::new(""),
        StorageMode::MemoryOnly,
        1000,
    ))
    .unwrap();
    db.create_collection("people").unwrap();
    db.insert("people", document(1, 1)).unwrap();
    let before = db.last_seq();
    infer_schema(&db, "people").unwrap();
    for change in db.changes_after(before, 100).unwrap() {
        assert!(
            matches!(
                change.op,
                cairn_engine::ChangeOp::Insert
                    | cairn_engine::ChangeOp::Update
                    | cairn_engine::ChangeOp::CreateCollection
            ),
            "{:?}",
            change.op
        );
    }
    let meta = db.read().unwrap().collection_meta("people").unwrap();
    assert!(meta.extensions.is_empty());
}
