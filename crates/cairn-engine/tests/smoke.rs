//! End-to-end behaviour of the engine's document operations.

use cairn_doc::{DocId, FieldPath, Patch, Value};
use cairn_engine::{CasOutcome, ChangeOp, Database, EngineError};

fn json(text: &str) -> Value {
    Value::from_json_str(text).expect("test JSON is valid")
}

fn patch(text: &str) -> Patch {
    Patch::from_json_str(text).expect("test patch is valid")
}

#[test]
fn crud_round_trip_in_memory() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("people").expect("create");
    let id = db
        .insert("people", json(r#"{"name": "Ada", "age": 36}"#))
        .expect("insert");
    assert!(matches!(id, DocId::Uuid(_)));
    let doc = db.get("people", &id).expect("get").expect("present");
    assert_eq!(
        doc.as_object().and_then(|o| o.get("name")),
        Some(&Value::String("Ada".into()))
    );
    let updated = db
        .update("people", &id, &patch(r#"{"$inc": {"age": 1}}"#))
        .expect("update");
    assert_eq!(
        updated.as_object().and_then(|o| o.get("age")),
        Some(&Value::Int(37))
    );
    assert!(db.delete("people", &id).expect("delete"));
    assert!(db.get("people", &id).expect("get").is_none());
    assert!(!db.delete("people", &id).expect("delete again"));
}

#[test]
fn duplicate_insert_is_rejected_and_leaves_no_trace() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    db.insert("c", json(r#"{"_id": 1, "v": "first"}"#))
        .expect("insert");
    let seq = db.last_seq();
    let err = db
        .insert("c", json(r#"{"_id": 1, "v": "second"}"#))
        .expect_err("duplicate");
    assert!(matches!(err, EngineError::DuplicateId { .. }), "{err}");
    assert_eq!(db.last_seq(), seq);
    let doc = db.get("c", &DocId::Int(1)).expect("get").expect("present");
    assert_eq!(
        doc.as_object().and_then(|o| o.get("v")),
        Some(&Value::String("first".into()))
    );
}

#[test]
fn unknown_collection_is_a_typed_error() {
    let db = Database::open_in_memory().expect("open");
    let err = db.insert("nope", json("{}")).expect_err("unknown");
    assert!(matches!(err, EngineError::UnknownCollection { ref name } if name == "nope"));
}

#[test]
fn compare_and_swap_applies_once() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("jobs").expect("create");
    db.insert("jobs", json(r#"{"_id": "j1", "state": "waiting"}"#))
        .expect("insert");
    let id = DocId::String("j1".into());
    let expected = [(
        FieldPath::parse("state").expect("path"),
        Value::String("waiting".into()),
    )];
    let take = patch(r#"{"$set": {"state": "taken"}}"#);
    let first = db
        .compare_and_swap("jobs", &id, &expected, &take)
        .expect("cas");
    assert!(matches!(first, CasOutcome::Applied(_)));
    let second = db
        .compare_and_swap("jobs", &id, &expected, &take)
        .expect("cas");
    assert!(matches!(second, CasOutcome::Mismatch { .. }), "{second:?}");
}

#[test]
fn transactions_read_their_own_writes_and_abort_cleanly() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("a").expect("create");
    let mut txn = db.begin().expect("begin");
    txn.insert("a", json(r#"{"_id": 1}"#)).expect("insert");
    assert!(txn.get("a", &DocId::Int(1)).expect("get").is_some());
    let mut seen = 0;
    txn.for_each("a", |_, _| {
        seen += 1;
        true
    })
    .expect("scan");
    assert_eq!(seen, 1);
    drop(txn);
    assert!(db.get("a", &DocId::Int(1)).expect("get").is_none());
}

#[test]
fn change_log_records_every_commit_in_order() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    db.insert("c", json(r#"{"_id": 1, "v": 1}"#))
        .expect("insert");
    db.update("c", &DocId::Int(1), &patch(r#"{"$set": {"v": 2}}"#))
        .expect("update");
    db.delete("c", &DocId::Int(1)).expect("delete");
    db.rename_collection("c", "d").expect("rename");
    let changes = db.changes_after(0, 100).expect("changes");
    let ops: Vec<_> = changes.iter().map(|c| c.op.clone()).collect();
    assert_eq!(
        ops,
        vec![
            ChangeOp::CreateCollection,
            ChangeOp::Insert,
            ChangeOp::Update,
            ChangeOp::Delete,
            ChangeOp::RenameCollection { to: "d".into() }
        ]
    );
    let seqs: Vec<_> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    assert_eq!(
        changes[2]
            .old
            .as_ref()
            .and_then(|d| d.as_object())
            .and_then(|o| o.get("v")),
        Some(&Value::Int(1))
    );
    assert_eq!(db.changes_after(3, 100).expect("changes").len(), 2);
}

#[test]
fn routing_index_finds_the_collection() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("a").expect("create");
    db.create_collection("b").expect("create");
    let id = db.insert("b", json("{}")).expect("insert");
    assert_eq!(
        db.locate(&id).expect("locate").collections,
        vec!["b".to_string()]
    );
    db.delete("b", &id).expect("delete");
    assert!(db.locate(&id).expect("locate").collections.is_empty());
}
