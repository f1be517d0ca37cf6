//! Cairn, a multi-model database, embedded in your Rust program.
//!
//! ```no_run
//! use cairn::{Database, Config, StorageMode, Value, DocId, Patch};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::open(Config::new("./cairn-data", StorageMode::Persistent))?;
//! db.create_collection("patients")?;
//! let id = db.insert("patients", Value::from_json_str(r#"{"name": "Ada", "age": 36}"#)?)?;
//! let patch = Patch::from_json_str(r#"{"$inc": {"age": 1}}"#)?;
//! db.update("patients", &id, &patch)?;
//! let doc = db.get("patients", &id)?;
//! # Ok(()) }
//! ```
//!
//! This crate is a facade: it re-exports the engine's handle and the document model so that
//! applications depend on one crate with one stable surface. See ARCHITECTURE.md for the
//! layers underneath.

pub use cairn_doc::{
    encoded_len, DateTime, DocError, DocId, FieldPath, JsonExpression, Object, Patch, Value, Vector,
};
pub use cairn_engine::{
    allocated_bytes, check_integrity, is_system_collection, stored_mode_name, BatchOp, BatchResult,
    CasOutcome, Change, ChangeOp, CollectionMeta, CollectionStats, Config, Database, DatabaseStats,
    DocChange, EngineError, Extension, ExtensionKind, ExtensionSpec, ExtensionTxn, IntegrityReport,
    PendingCommit, Result, StorageMode, Transaction, Upserted, DATA_FILE_NAME,
    SYSTEM_COLLECTION_PREFIX,
};

/// Checks a collection name against the naming rules (what `create_collection` enforces).
pub use cairn_engine::validate_name as validate_collection_name;

/// The engine's limits (batch sizes, transaction sizes, queue lengths).
pub use cairn_engine::limits;

/// The document model's limits (document size, nesting depth, id length).
pub use cairn_doc::limits as document_limits;
