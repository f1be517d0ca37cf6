//! What the spatial index's integration tests share: a persistent database with the spatial
//! extension kind, and a document holding one shape.

use std::sync::Arc;

use cairn_doc::{Geometry, Object, Value};
use cairn_engine::{Config, Database, StorageMode};
use cairn_geo::index::SpatialExtensionKind;

/// Opens (or creates) a persistent database in `dir` that knows spatial indexes.
pub fn open(dir: &std::path::Path) -> Database {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.extension_kinds.push(Arc::new(SpatialExtensionKind));
    Database::open(config).expect("open")
}

/// The document `{"_id": id, "shape": shape}`.
pub fn doc(id: i64, shape: &Geometry) -> Value {
    let mut o = Object::new();
    o.insert("_id", Value::Int(id));
    o.insert("shape", Value::from(shape.clone()));
    Value::Object(o)
}
