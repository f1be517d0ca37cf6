//! Limits give typed errors and leave no trace; change-log retention trims and says so.

use cairn_doc::{DocError, DocId, Value};
use cairn_engine::limits::MAX_TXN_OPS;
use cairn_engine::{BatchOp, Config, Database, EngineError, StorageMode};

fn json(text: &str) -> Value {
    Value::from_json_str(text).expect("valid JSON")
}

fn count(db: &Database, collection: &str) -> usize {
    let mut n = 0;
    db.for_each(collection, |_, _| {
        n += 1;
        true
    })
    .expect("scan");
    n
}

#[test]
fn an_oversized_document_is_rejected_with_its_size() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    let big = "x".repeat(cairn_doc::limits::MAX_DOCUMENT_BYTES);
    let mut obj = cairn_doc::Object::new();
    obj.insert("blob", Value::String(big));
    let err = db.insert("c", Value::Object(obj)).expect_err("too large");
    assert!(
        matches!(err, EngineError::Document(DocError::TooLarge { .. })),
        "{err}"
    );
    assert_eq!(count(&db, "c"), 0);
}

#[test]
fn an_overlong_id_is_rejected() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    let id = "i".repeat(cairn_doc::limits::MAX_ID_BYTES + 1);
    let err = db
        .insert("c", json(&format!(r#"{{"_id": "{id}"}}"#)))
        .expect_err("too long");
    assert!(
        matches!(err, EngineError::Document(DocError::IdTooLong { .. })),
        "{err}"
    );
}

#[test]
fn a_batch_over_the_operation_limit_fails_whole() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    let ops: Vec<BatchOp> = (0..=MAX_TXN_OPS as i64)
        .map(|i| BatchOp::Insert {
            collection: "c".into(),
            doc: json(&format!(r#"{{"_id": {i}}}"#)),
        })
        .collect();
    let err = db.batch(&ops).expect_err("over the limit");
    assert!(matches!(err, EngineError::LimitExceeded { .. }), "{err}");
    assert_eq!(count(&db, "c"), 0);
}

#[test]
fn a_batch_with_one_failing_operation_stores_nothing() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    db.insert("c", json(r#"{"_id": 1}"#)).expect("insert");
    let seq = db.last_seq();
    let ops = vec![
        BatchOp::Insert {
            collection: "c".into(),
            doc: json(r#"{"_id": 2}"#),
        },
        BatchOp::Insert {
            collection: "c".into(),
            doc: json(r#"{"_id": 1}"#),
        },
    ];
    let err = db.batch(&ops).expect_err("duplicate");
    assert!(matches!(err, EngineError::DuplicateId { .. }), "{err}");
    assert!(db.get("c", &DocId::Int(2)).expect("get").is_none());
    assert_eq!(db.last_seq(), seq);
}

#[test]
fn invalid_collection_names_are_rejected() {
    let db = Database::open_in_memory().expect("open");
    for name in ["", "has space", "9lives", "dot.ted"] {
        let err = db.create_collection(name).expect_err(name);
        assert!(
            matches!(err, EngineError::InvalidCollectionName { .. }),
            "{err}"
        );
    }
}

#[test]
fn retention_trims_the_change_log_and_reports_trimmed_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(dir.path(), StorageMode::Persistent);
    config.changelog_retention = 10;
    let db = Database::open(config.clone()).expect("open");
    db.create_collection("c").expect("create");
    for i in 0..30 {
        db.insert("c", json(&format!(r#"{{"_id": {i}}}"#)))
            .expect("insert");
    }
    let stats = db.stats().expect("stats");
    assert!(stats.changelog_entries <= 10, "{}", stats.changelog_entries);
    let last = db.last_seq();
    let err = db.changes_after(0, 100).expect_err("trimmed");
    assert!(matches!(err, EngineError::ChangeLogTrimmed { .. }), "{err}");
    let recent = db.changes_after(last - 5, 100).expect("recent");
    assert_eq!(
        recent.iter().map(|c| c.seq).collect::<Vec<_>>(),
        ((last - 4)..=last).collect::<Vec<_>>()
    );
    drop(db);
    // The trimmed point survives a reopen.
    let db = Database::open(config).expect("reopen");
    assert!(matches!(
        db.changes_after(0, 1),
        Err(EngineError::ChangeLogTrimmed { .. })
    ));
    assert_eq!(db.last_seq(), last);
}

#[test]
fn memory_only_mode_creates_no_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let db = Database::open(Config::new(&data, StorageMode::MemoryOnly)).expect("open");
    db.create_collection("c").expect("create");
    db.insert("c", json(r#"{"a": 1}"#)).expect("insert");
    db.flush().expect("flush");
    drop(db);
    assert!(!data.exists());
}

#[test]
fn change_log_pages_never_split_a_commit() {
    let db = Database::open_in_memory().expect("open");
    db.create_collection("c").expect("create");
    for batch in 0..3 {
        let ops: Vec<BatchOp> = (0..7)
            .map(|i| BatchOp::Insert {
                collection: "c".into(),
                doc: json(&format!(r#"{{"_id": {}}}"#, batch * 10 + i)),
            })
            .collect();
        db.batch(&ops).expect("batch");
    }
    let mut after = 0;
    let mut ids = Vec::new();
    loop {
        let page = db.changes_after(after, 3).expect("page");
        let Some(last) = page.last() else { break };
        after = last.seq;
        ids.extend(page.iter().filter_map(|c| c.id.clone()));
    }
    let expected: Vec<DocId> = (0..3)
        .flat_map(|b| (0..7).map(move |i| DocId::Int(b * 10 + i)))
        .collect();
    assert_eq!(ids, expected);
}
