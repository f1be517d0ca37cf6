//! Pipeline tests over in-memory databases: one file per area, helpers here.

mod errors;
mod group;
mod lookup;
mod reshape;
mod stages;

use std::path::PathBuf;
use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::{Config, Database, StorageMode};

use super::aggregate;
use crate::error::QueryError;

/// A pipeline, a filter or an expected result written as JSON.
fn json(text: &str) -> Value {
    Value::from_json_expression(text).unwrap()
}

/// An in-memory database that can hold indexes.
fn database() -> Database {
    let mut config = Config::new(PathBuf::new(), StorageMode::MemoryOnly);
    config
        .extension_kinds
        .push(Arc::new(cairn_index::IndexExtensionKind));
    Database::open(config).unwrap()
}

/// Creates `collection` holding `docs`.
fn fill(db: &Database, collection: &str, docs: &[&str]) {
    db.create_collection(collection).unwrap();
    for doc in docs {
        db.insert(collection, Value::from_json_str(doc).unwrap())
            .unwrap();
    }
}

/// A database with one collection `c` holding `docs`.
fn db_with(docs: &[&str]) -> Database {
    let db = database();
    fill(&db, "c", docs);
    db
}

/// Indexes `field` of `collection`.
fn index(db: &Database, collection: &str, field: &str) {
    let spec = cairn_index::IndexSpec::btree(&format!("by_{field}"), &[field]).unwrap();
    cairn_index::create_index(db, collection, &spec, &mut |_| {}).unwrap();
}

/// Runs `pipeline` over `c` and compares the result, as JSON text, with `expected`.
#[track_caller]
fn check(db: &Database, pipeline: &str, expected: &str) {
    let out = aggregate(db, "c", &json(pipeline)).unwrap();
    assert_eq!(
        Value::Array(out).to_json_string(),
        json(expected).to_json_string(),
        "{pipeline}"
    );
}

/// Where `pipeline` over `c` is reported invalid.
#[track_caller]
fn invalid_at(db: &Database, pipeline: &str) -> String {
    match aggregate(db, "c", &json(pipeline)) {
        Err(QueryError::Invalid { at, .. }) => at,
        other => panic!("{pipeline}: expected an invalid-query error, got {other:?}"),
    }
}
