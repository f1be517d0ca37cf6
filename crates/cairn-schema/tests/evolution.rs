//! Versions, history, compatible and incompatible changes, migrations and dry runs.

mod support;

use cairn_doc::{DocId, Value};
use cairn_schema::{
    dry_run, history, migrate, schema_of, set_schema, Migration, SchemaError, SCHEMA_VERSION_FIELD,
};
use support::{json, open};

fn version_of(db: &cairn_engine::Database, id: i64) -> Option<Value> {
    db.get("c", &DocId::Int(id)).ok().flatten().and_then(|d| {
        d.as_object()
            .and_then(|o| o.get(SCHEMA_VERSION_FIELD))
            .cloned()
    })
}

#[test]
fn compatible_changes_apply_at_once_and_are_kept_in_the_history() {
    let db = open();
    db.create_collection("c").expect("create");
    let v1 = set_schema(
        &db,
        "c",
        &json(r#"{"fields": {"n": {"type": "int", "max": 5}}}"#),
        "ada",
    )
    .expect("v1");
    db.insert("c", json(r#"{"_id": 1, "n": 5}"#))
        .expect("insert");
    let v2 = set_schema(
        &db,
        "c",
        &json(r#"{"fields": {"n": {"type": "float", "max": 50}, "note": "string"}}"#),
        "bob",
    )
    .expect("v2");
    assert_eq!((v1, v2), (1, 2));
    assert_eq!(
        version_of(&db, 1),
        Some(Value::Int(1)),
        "a document records the version it was written under"
    );
    db.insert("c", json(r#"{"_id": 2, "n": 7.5}"#))
        .expect("the relaxed schema applies");
    assert_eq!(version_of(&db, 2), Some(Value::Int(2)));
    let entries = history(&db, "c").expect("history");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].by, "bob");
    let changes = entries[1].changes.join("; ");
    assert!(
        changes.contains("widened")
            && changes.contains("added field `note`")
            && changes.contains("relaxed"),
        "{changes}"
    );
    assert_eq!(
        schema_of(&db, "c").expect("show").map(|s| s.version),
        Some(2)
    );
}

#[test]
fn incompatible_changes_are_refused_without_a_migration() {
    let db = open();
    db.create_collection("c").expect("create");
    set_schema(&db, "c", &json(r#"{"fields": {"n": "int"}}"#), "t").expect("v1");
    let err = set_schema(&db, "c", &json(r#"{"fields": {"n": "string"}}"#), "t");
    assert!(
        matches!(err, Err(SchemaError::MigrationRequired { .. })),
        "{err:?}"
    );
    let err = set_schema(
        &db,
        "c",
        &json(r#"{"fields": {"n": "int", "m": {"type": "int", "required": true}}}"#),
        "t",
    );
    assert!(
        matches!(err, Err(SchemaError::MigrationRequired { .. })),
        "{err:?}"
    );
    assert_eq!(
        schema_of(&db, "c").expect("show").map(|s| s.version),
        Some(1)
    );
}

#[test]
fn a_first_schema_is_checked_against_existing_documents() {
    let db = open();
    db.create_collection("c").expect("create");
    db.insert("c", json(r#"{"_id": 1, "n": "text"}"#))
        .expect("schemaless insert");
    assert!(set_schema(&db, "c", &json(r#"{"fields": {"n": "int"}}"#), "t").is_err());
    assert!(
        schema_of(&db, "c").expect("show").is_none(),
        "nothing was set"
    );
}

fn migration(text: &str) -> Migration {
    Migration::from_value(&json(text)).expect("migration")
}

#[test]
fn a_dry_run_counts_failures_by_reason_and_changes_nothing() {
    let db = open();
    db.create_collection("c").expect("create");
    set_schema(&db, "c", &json(r#"{"fields": {"n": "int"}}"#), "t").expect("v1");
    for i in 0..10 {
        db.insert("c", json(&format!(r#"{{"_id": {i}, "n": {i}}}"#)))
            .expect("insert");
    }
    let m = migration(
        r#"{"schema": {"fields": {"n": {"type": "int", "max": 6}}, "rules": {"even": "n % 2 == 0"}}}"#,
    );
    let report = dry_run(&db, "c", &m).expect("dry run");
    assert_eq!(report.total, 10);
    assert_eq!(report.failed, 6, "{report:?}"); // 1 3 5 odd, 7 8 9 too large (7, 9 count once)
    assert!(report
        .reasons
        .iter()
        .any(|r| r.0 == "schema `n`" && r.1 == 3));
    assert!(report
        .reasons
        .iter()
        .any(|r| r.0 == "rule `even`" && r.1 == 3));
    let real = migrate(&db, "c", Some(&m), "t", Default::default(), &mut |_| {});
    assert!(
        matches!(
            real,
            Err(SchemaError::ExistingDocumentsInvalid { failed: 6, .. })
        ),
        "{real:?}"
    );
    assert_eq!(
        schema_of(&db, "c").expect("show").map(|s| s.version),
        Some(1)
    );
}

#[test]
fn a_migration_transforms_every_document_and_records_the_new_version() {
    let db = open();
    db.create_collection("c").expect("create");
    set_schema(
        &db,
        "c",
        &json(r#"{"fields": {"first": "string", "last": "string", "price": "int", "qty": "int"}}"#),
        "t",
    )
    .expect("v1");
    for i in 0..600 {
        db.insert(
            "c",
            json(&format!(
                r#"{{"_id": {i}, "first": "A{i}", "last": "B", "price": {i}, "qty": 2}}"#
            )),
        )
        .expect("insert");
    }
    let m = migration(
        r#"{
        "schema": {"additional_fields": "reject", "fields": {
            "name": {"type": "string", "required": true}, "total": {"type": "int", "required": true},
            "qty": "int", "price": "int"}},
        "transform": [
            {"set": {"field": "name", "to": "first + ' ' + last"}},
            {"set": {"field": "total", "to": "price * qty"}},
            {"remove": "first"}, {"remove": "last"}]}"#,
    );
    let mut seen = Vec::new();
    let done = migrate(&db, "c", Some(&m), "ada", Default::default(), &mut |p| {
        seen.push(p.migrated)
    })
    .expect("migrate");
    assert_eq!(done.migrated, 600);
    assert!(seen.len() >= 3, "progress is reported per chunk: {seen:?}");
    let doc = db.get("c", &DocId::Int(7)).expect("get").expect("kept");
    assert_eq!(
        doc.as_object().and_then(|o| o.get("name")),
        Some(&json(r#""A7 B""#))
    );
    assert_eq!(
        doc.as_object().and_then(|o| o.get("total")),
        Some(&Value::Int(14))
    );
    assert_eq!(version_of(&db, 599), Some(Value::Int(2)));
    let info = schema_of(&db, "c").expect("show").expect("schema");
    assert!(!info.migrating);
    let entries = history(&db, "c").expect("history");
    assert!(
        entries.iter().any(|e| e
            .changes
            .iter()
            .any(|c| c.contains("migration finished: 600"))),
        "{entries:?}"
    );
    // The new schema is enforced.
    assert!(db.insert("c", json(r#"{"first": "x"}"#)).is_err());
}

#[test]
fn writes_during_a_migration_are_transformed_and_a_resume_finishes_it() {
    let db = open();
    db.create_collection("c").expect("create");
    set_schema(&db, "c", &json(r#"{"fields": {"a": "int"}}"#), "t").expect("v1");
    for i in 0..50 {
        db.insert("c", json(&format!(r#"{{"_id": {i}, "a": {i}}}"#)))
            .expect("insert");
    }
    let m = migration(
        r#"{"schema": {"fields": {"b": {"type": "int", "required": true}}, "additional_fields": "reject"},
                         "transform": [{"rename": {"from": "a", "to": "b"}}]}"#,
    );
    // Stop after two chunks, as a crash would (the cursor is stored with each chunk).
    let options = cairn_schema::MigrateOptions {
        chunk_documents: 10,
        max_chunks: Some(2),
        ..Default::default()
    };
    let partial = migrate(&db, "c", Some(&m), "t", options, &mut |_| {}).expect("partial run");
    assert_eq!((partial.migrated, partial.finished), (20, false));
    let info = schema_of(&db, "c").expect("show").expect("schema");
    assert!(info.migrating);
    assert_eq!(info.progress.map(|p| p.migrated), Some(20));
    assert!(matches!(
        set_schema(&db, "c", &json(r#"{"fields": {}}"#), "t"),
        Err(SchemaError::MigrationInProgress { .. })
    ));
    // A write to a document not yet migrated is transformed on the way in.
    let patch = cairn_doc::Patch::from_json_str(r#"{"$inc": {"a": 100}}"#).expect("patch");
    db.update("c", &DocId::Int(40), &patch)
        .expect("update under migration");
    let doc = db.get("c", &DocId::Int(40)).expect("get").expect("kept");
    assert_eq!(
        doc.as_object().and_then(|o| o.get("b")),
        Some(&Value::Int(140))
    );
    db.insert("c", json(r#"{"_id": 100, "b": 1}"#))
        .expect("new documents follow the new schema");
    assert!(db.insert("c", json(r#"{"_id": 101, "a": 1}"#)).is_err());
    let done = migrate(&db, "c", None, "t", Default::default(), &mut |_| {}).expect("resume");
    assert!(done.resumed && done.finished);
    assert_eq!(
        done.migrated, 49,
        "doc 40 was already rewritten by its update"
    );
    db.for_each("c", |id, doc| {
        let obj = doc.as_object().expect("object");
        assert!(
            obj.get("a").is_none() && obj.get("b").is_some(),
            "{id}: {doc:?}"
        );
        assert_eq!(obj.get(SCHEMA_VERSION_FIELD), Some(&Value::Int(2)));
        true
    })
    .expect("scan");
    assert!(
        !schema_of(&db, "c")
            .expect("show")
            .expect("schema")
            .migrating
    );
}

#[test]
fn a_dry_run_finds_duplicates_a_transformation_would_create() {
    let db = open();
    db.create_collection("c").expect("create");
    for i in 0..6 {
        db.insert("c", json(&format!(r#"{{"_id": {i}, "n": {i}}}"#)))
            .expect("insert");
    }
    let m = migration(
        r#"{"schema": {"fields": {"k": {"type": "int", "unique": true}}},
                         "transform": [{"set": {"field": "k", "to": "n % 4"}}]}"#,
    );
    let report = dry_run(&db, "c", &m).expect("dry run");
    assert_eq!(report.failed, 2, "{report:?}"); // 4 and 5 collide with 0 and 1
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.0 == "unique `k`" && r.1 == 2),
        "{report:?}"
    );
}
