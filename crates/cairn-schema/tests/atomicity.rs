//! A rejected write — single, batch or transaction — leaves the database byte for byte as it
//! was (every document, index entry, catalog entry and the sequence number compared).

mod support;

use cairn_doc::DocId;
use cairn_engine::BatchOp;
use cairn_schema::set_schema;
use support::{dump, json, open};

fn setup() -> cairn_engine::Database {
    let db = open();
    db.create_collection("users").expect("users");
    db.create_collection("c").expect("c");
    db.insert("users", json(r#"{"_id": "u1"}"#)).expect("user");
    set_schema(
        &db,
        "c",
        &json(
            r#"{"fields": {
        "n": {"type": "int", "required": true, "max": 10},
        "email": {"type": "string", "unique": true},
        "owner": {"type": "string", "references": {"collection": "users"}}},
        "rules": {"small": "n < 5 || n == 10"}}"#,
        ),
        "t",
    )
    .expect("schema");
    db.insert(
        "c",
        json(r#"{"_id": 1, "n": 1, "email": "a", "owner": "u1"}"#),
    )
    .expect("seed");
    db
}

#[test]
fn rejected_single_writes_leave_no_trace() {
    let db = setup();
    let before = dump(&db);
    for doc in [
        r#"{"n": 11}"#,
        r#"{"n": 7}"#,
        r#"{"n": 2, "email": "a"}"#,
        r#"{"n": 2, "owner": "ghost"}"#,
        r#"{"email": "b"}"#,
    ] {
        assert!(db.insert("c", json(doc)).is_err(), "{doc}");
        assert_eq!(dump(&db), before, "{doc}");
    }
    assert!(db.delete("users", &DocId::String("u1".into())).is_err());
    assert_eq!(dump(&db), before);
}

#[test]
fn a_rejected_batch_leaves_no_trace() {
    let db = setup();
    let before = dump(&db);
    let ops = vec![
        BatchOp::Insert {
            collection: "c".into(),
            doc: json(r#"{"n": 2, "email": "x"}"#),
        },
        BatchOp::Insert {
            collection: "c".into(),
            doc: json(r#"{"n": 3, "email": "y"}"#),
        },
        BatchOp::Insert {
            collection: "c".into(),
            doc: json(r#"{"n": 3, "email": "x"}"#),
        },
    ];
    assert!(db.batch(&ops).is_err());
    assert_eq!(dump(&db), before);
}

#[test]
fn a_rejected_transaction_leaves_no_trace() {
    let db = setup();
    let before = dump(&db);
    let result = db.transaction(|txn| {
        txn.insert("c", json(r#"{"n": 2, "email": "p"}"#))?;
        txn.insert("users", json(r#"{"_id": "u2"}"#))?;
        txn.insert("c", json(r#"{"n": 3, "owner": "u2"}"#))?;
        txn.insert("c", json(r#"{"n": 8}"#))
    });
    assert!(
        matches!(result, Err(cairn_engine::EngineError::RuleViolation { .. })),
        "{result:?}"
    );
    assert_eq!(dump(&db), before);
}
