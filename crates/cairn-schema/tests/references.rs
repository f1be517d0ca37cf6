//! References: a write referencing a missing document fails; deletes restrict, cascade or set
//! null; concurrent writers cannot leave a dangling reference.

mod support;

use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_engine::EngineError;
use cairn_schema::set_schema;
use support::{json, open};

fn setup(on_delete: &str) -> cairn_engine::Database {
    let db = open();
    db.create_collection("users").expect("users");
    db.create_collection("posts").expect("posts");
    db.insert("users", json(r#"{"_id": "u1"}"#)).expect("u1");
    db.insert("users", json(r#"{"_id": "u2"}"#)).expect("u2");
    let schema = format!(
        r#"{{"fields": {{"author": {{"type": "string", "references": {{"collection": "users", "on_delete": "{on_delete}"}}}}}}}}"#
    );
    set_schema(&db, "posts", &json(&schema), "t").expect("schema");
    db
}

#[test]
fn a_write_referencing_a_missing_document_fails() {
    let db = setup("restrict");
    db.insert("posts", json(r#"{"_id": 1, "author": "u1"}"#))
        .expect("existing reference");
    db.insert("posts", json(r#"{"_id": 2}"#))
        .expect("absent reference");
    let err = db.insert("posts", json(r#"{"_id": 3, "author": "nobody"}"#));
    assert!(
        matches!(err, Err(EngineError::ReferenceViolation { .. })),
        "{err:?}"
    );
    let patch = cairn_doc::Patch::from_json_str(r#"{"$set": {"author": "ghost"}}"#).expect("patch");
    assert!(matches!(
        db.update("posts", &DocId::Int(1), &patch),
        Err(EngineError::ReferenceViolation { .. })
    ));
}

#[test]
fn restrict_refuses_the_delete_while_references_exist() {
    let db = setup("restrict");
    db.insert("posts", json(r#"{"_id": 1, "author": "u1"}"#))
        .expect("post");
    let err = db.delete("users", &DocId::String("u1".into()));
    assert!(
        matches!(err, Err(EngineError::ReferenceViolation { .. })),
        "{err:?}"
    );
    assert!(db
        .get("users", &DocId::String("u1".into()))
        .expect("get")
        .is_some());
    assert!(db
        .delete("users", &DocId::String("u2".into()))
        .expect("unreferenced delete"));
    db.delete("posts", &DocId::Int(1))
        .expect("delete the referrer");
    assert!(db
        .delete("users", &DocId::String("u1".into()))
        .expect("now unreferenced"));
}

#[test]
fn cascade_deletes_the_referring_documents() {
    let db = setup("cascade");
    for i in 0..5 {
        db.insert(
            "posts",
            json(&format!(
                r#"{{"_id": {i}, "author": "{}"}}"#,
                if i < 3 { "u1" } else { "u2" }
            )),
        )
        .expect("post");
    }
    assert!(db
        .delete("users", &DocId::String("u1".into()))
        .expect("delete"));
    let mut left = Vec::new();
    db.for_each("posts", |id, _| {
        left.push(id.clone());
        true
    })
    .expect("scan");
    assert_eq!(left, vec![DocId::Int(3), DocId::Int(4)]);
}

#[test]
fn set_null_clears_the_reference() {
    let db = setup("set_null");
    db.insert("posts", json(r#"{"_id": 1, "author": "u1"}"#))
        .expect("post");
    db.delete("users", &DocId::String("u1".into()))
        .expect("delete");
    let post = db.get("posts", &DocId::Int(1)).expect("get").expect("kept");
    assert_eq!(
        post.as_object().and_then(|o| o.get("author")),
        Some(&Value::Null)
    );
}

#[test]
fn self_referencing_cascades_stop_at_the_depth_limit() {
    let db = open();
    db.create_collection("nodes").expect("nodes");
    set_schema(&db, "nodes", &json(r#"{"fields": {"parent": {"type": "int", "references": {"collection": "nodes", "on_delete": "cascade"}}}}"#), "t").expect("schema");
    db.insert("nodes", json(r#"{"_id": 0}"#)).expect("root");
    for i in 1..40 {
        db.insert(
            "nodes",
            json(&format!(r#"{{"_id": {i}, "parent": {}}}"#, i - 1)),
        )
        .expect("chain");
    }
    // A short subtree cascades fully.
    assert!(db
        .delete("nodes", &DocId::Int(30))
        .expect("delete the tail"));
    assert!(db.get("nodes", &DocId::Int(39)).expect("get").is_none());
    // The 30-long chain from the root exceeds MAX_CASCADE_DEPTH: refused whole.
    let err = db.delete("nodes", &DocId::Int(0));
    assert!(
        matches!(err, Err(EngineError::LimitExceeded { .. })),
        "{err:?}"
    );
    assert!(db.get("nodes", &DocId::Int(29)).expect("get").is_some());
}

#[test]
fn concurrent_inserts_and_deletes_never_leave_a_dangling_reference() {
    for round in 0..10 {
        let db = Arc::new(setup("restrict"));
        let writer = {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    let _ = db.insert("posts", json(&format!(r#"{{"_id": {i}, "author": "u1"}}"#)));
                }
            })
        };
        let deleted = db.delete("users", &DocId::String("u1".into()));
        writer.join().expect("writer thread");
        let mut referrers = 0;
        db.for_each("posts", |_, doc| {
            referrers += usize::from(
                doc.as_object().and_then(|o| o.get("author")) == Some(&Value::String("u1".into())),
            );
            true
        })
        .expect("scan");
        let user = db.get("users", &DocId::String("u1".into())).expect("get");
        assert!(
            user.is_some() || referrers == 0,
            "round {round}: {referrers} posts reference a deleted user ({deleted:?})"
        );
    }
}

#[test]
fn dropping_the_referring_collection_releases_the_referenced_documents() {
    let db = setup("restrict");
    db.insert("posts", json(r#"{"_id": 1, "author": "u1"}"#))
        .expect("post");
    db.drop_collection("posts").expect("drop the referrers");
    assert!(db
        .delete("users", &DocId::String("u1".into()))
        .expect("delete"));
}

#[test]
fn references_are_found_inside_arrays_and_maps_at_any_depth() {
    let schema = cairn_schema::Schema::from_value(&json(
        r#"{"fields": {
            "owner": {"type": "string", "references": {"collection": "users"}},
            "refs": {"type": "array", "items": {"type": "int", "references": {"collection": "secret"}}},
            "by_key": {"type": "map", "values": {"type": "object", "fields": {
                "deep": {"type": "array", "items": {"type": "array", "items":
                    {"type": "string", "references": {"collection": "hidden"}}}}}}},
            "plain": "array<string>"
        }}"#,
    ))
    .expect("schema");
    let collections: Vec<&str> = schema
        .references()
        .iter()
        .map(|r| r.collection.as_str())
        .collect();
    assert_eq!(collections, ["users", "secret", "hidden"]);
}
