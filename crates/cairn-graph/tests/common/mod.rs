//! Shared helpers for the graph tests.
#![allow(dead_code)]

use cairn_doc::Value;
use cairn_engine::{Config, Database, StorageMode};
use cairn_graph::{create_edge_collection, EdgeOptions, OnVertexDelete};

pub fn config(dir: &std::path::Path, mode: StorageMode) -> Config {
    let mut config = Config::new(dir, mode);
    config.extension_kinds = cairn_graph::extension_kinds();
    config
}

pub fn memory_db() -> Database {
    Database::open(config(std::path::Path::new(""), StorageMode::MemoryOnly)).unwrap()
}

pub fn doc(json: &str) -> Value {
    Value::from_json_str(json).unwrap()
}

/// `patients` and `admissions` with ids 1..=n each, and edge collection `edges` over both.
pub fn setup(db: &Database, mode: OnVertexDelete, n: i64) {
    for coll in ["patients", "admissions"] {
        db.create_collection(coll).unwrap();
        for id in 1..=n {
            db.insert(coll, doc(&format!(r#"{{"_id": {id}, "n": {id}}}"#)))
                .unwrap();
        }
    }
    create_edge_collection(
        db,
        "edges",
        &EdgeOptions {
            on_vertex_delete: mode,
            vertex_collections: vec!["patients".into(), "admissions".into()],
            properties: vec![],
        },
    )
    .unwrap();
}

pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
