//! Shared helpers: a database with the schema kinds registered, and a full dump to compare.

#![allow(dead_code)]

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::{Config, Database, EngineError, StorageMode};

pub fn open() -> Database {
    let mut config = Config::new(PathBuf::new(), StorageMode::MemoryOnly);
    config
        .extension_kinds
        .push(Arc::new(cairn_index::IndexExtensionKind));
    config
        .extension_kinds
        .push(Arc::new(cairn_schema::SchemaExtensionKind));
    config
        .extension_kinds
        .push(Arc::new(cairn_schema::ReferrersExtensionKind));
    Database::open(config).expect("opening a memory-only database")
}

pub fn json(text: &str) -> Value {
    Value::from_json_str(text).expect("test JSON")
}

/// Everything observable: last sequence, catalog, documents and every extension table entry.
pub fn dump(db: &Database) -> String {
    let mut out = format!("seq {}\n", db.last_seq());
    let mut txn = db.read().expect("read transaction");
    for meta in txn.list_collections().expect("collections") {
        out.push_str(&format!("collection {meta:?}\n"));
        txn.for_each(&meta.name, |_, doc| {
            out.push_str(&doc.to_json_string());
            out.push('\n');
            true
        })
        .expect("documents");
        for ext in &meta.extensions {
            for table in ["entries", "meta", "history", "migration"] {
                txn.extension_range(
                    &meta.name,
                    &ext.name,
                    table,
                    Bound::Unbounded,
                    Bound::Unbounded,
                    |k, v| {
                        out.push_str(&format!("{} {table} {k:?} {v:?}\n", ext.name));
                        Ok::<_, cairn_engine::EngineError>(true)
                    },
                )
                .expect("extension table");
            }
        }
    }
    out
}

pub fn is_schema_violation(err: &EngineError) -> bool {
    matches!(err, EngineError::SchemaViolation { .. })
}
