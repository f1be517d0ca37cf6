//! Cairn, a multi-model database, embedded in your Rust program.
//!
//! ```no_run
//! use cairn::{Database, Config, StorageMode, Value, DocId, Patch};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = cairn::open(Config::new("./cairn-data", StorageMode::Persistent))?;
//! db.create_collection("patients")?;
//! let id = db.insert("patients", Value::from_json_str(r#"{"name": "Ada", "age": 36}"#)?)?;
//! let patch = Patch::from_json_str(r#"{"$inc": {"age": 1}}"#)?;
//! db.update("patients", &id, &patch)?;
//! let doc = db.get("patients", &id)?;
//! # Ok(()) }
//! ```
//!
//! Open databases with [`open`] (or [`open_in_memory`]): it registers the built-in extension
//! kinds (secondary, spatial and vector indexes, schemas, invariants, edge collections, time
//! series) that a database using them needs.
//! Queries, indexes and aggregation live in [`query`] and [`index`]; the most used items are
//! re-exported here.
//!
//! This crate is a facade: it re-exports the engine's handle and the document model so that
//! applications depend on one crate with one stable surface. See ARCHITECTURE.md for the
//! layers underneath.
//!
//! Surface: the items re-exported at the root; one namespace per model crate (`geo`, `index`,
//! `infer`, `invariant`, `query`, `schema`, `text`, `timeseries`, `vector`, each that crate's
//! own chosen surface); and the facade's own modules `backup`, `catalog`, `graph` and
//! `lineage`. The query models of the graph and time-series crates (`graph_access.rs`,
//! `timeseries_access.rs`) are private: [`register_query_models`] plugs them in.

pub use cairn_doc::{
    encoded_len, DateTime, DocError, DocId, FieldPath, Geometry, JsonExpression, Mesh, Object,
    Patch, Point3, Value, Vector,
};
pub use cairn_engine::{
    allocated_bytes, check_database, check_integrity, compact, is_encrypted, is_system_collection,
    rekey, stored_mode_name, stored_mode_name_with_key, verify_extensions, BatchOp, BatchResult,
    CasOutcome, Change, ChangeOp, CheckReport, CollectionMeta, CollectionStats, CompactReport,
    Compression, CompressionStats, Config, Database, DatabaseStats, DocChange, EngineError,
    Extension, ExtensionKind, ExtensionSpec, ExtensionTxn, Finding, IntegrityReport, KeySource,
    PendingCommit, Result, RotationReport, StorageError, StorageMode, Transaction, Upserted,
    WalSettings, DATA_FILE_NAME, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_ZSTD_LEVEL, KEY_BYTES, RETRAIN_GROWTH, ROTATION_CHUNK_BLOCKS, SYSTEM_COLLECTION_PREFIX,
    TRAIN_MIN_DOCS, WAL_DIR_NAME,
};
/// Collection options chosen at creation, and where `Database::locate` found an id.
pub use cairn_engine::{CollectionOptions, Located};

/// Backups: take (`Database::backup`), verify, restore (to a point in time).
pub mod backup {
    use std::path::Path;

    // Everything the engine's module offers; `restore` and `replay` below shadow the engine's.
    pub use cairn_engine::backup::*;
    use cairn_engine::{KeySource, Result};

    /// Restores the backup in `src` into the new folder `to`, up to `target`, with the
    /// built-in extension kinds registered: replaying incremental pieces writes through the
    /// collections' indexes, schemas and invariants (see `cairn_engine::backup::restore`).
    pub fn restore(
        src: &Path,
        to: &Path,
        target: RestoreTarget,
        key: Option<&KeySource>,
        progress: Progress<'_>,
    ) -> Result<RestoreReport> {
        cairn_engine::backup::restore(
            src,
            to,
            target,
            key,
            &super::builtin_extension_kinds(),
            progress,
        )
    }

    /// Rebuilds `src` — or only its collection `collection` — from its change log into the
    /// new folder `to`, up to `target`, with the built-in extension kinds registered (see
    /// `cairn_engine::backup::replay`).
    pub fn replay(
        src: &cairn_engine::Database,
        to: &Path,
        target: RestoreTarget,
        collection: Option<&str>,
        key: Option<&KeySource>,
    ) -> Result<ReplayReport> {
        cairn_engine::backup::replay(
            src,
            to,
            target,
            collection,
            key,
            &super::builtin_extension_kinds(),
        )
    }
}
/// Checks a collection name against the naming rules (what `create_collection` enforces).
pub use cairn_engine::validate_name as validate_collection_name;

/// The engine's limits (batch sizes, transaction sizes, queue lengths).
pub use cairn_engine::limits;

/// The document model's limits (document size, nesting depth, id length).
pub use cairn_doc::limits as document_limits;

/// 3D geometry: distances, measures, WKT, constructors and the spatial index (`cairn-geo`).
pub use cairn_geo as geo;
/// The catalog: every collection with its columns, schema version, size, extensions and
/// tags; external sources plug in through `catalog::CatalogSource`.
pub mod catalog;

/// Graphs and the entity API (`cairn-graph`, plus filters of the query language).
pub mod graph;
/// The adjacency index as an access method of the query planner.
mod graph_access;

/// Lineage: what filled a collection (imported files, derivations) and what it fed;
/// OpenLineage export.
pub mod lineage;
/// Time-series collections' points as documents of the query language.
mod timeseries_access;
/// Secondary indexes: definitions, online builds, listing (`cairn-index`).
pub use cairn_index as index;
/// Schema inference for schemaless collections (`cairn-infer`).
pub use cairn_infer as infer;
/// Commit-time invariants: conserved sums, field bounds, group-sum bounds (`cairn-invariant`).
pub use cairn_invariant as invariant;
/// The query language, planner, executor and aggregation pipeline (`cairn-query`).
pub use cairn_query as query;
/// Full-text indexes: analyzers, transactional posting lists, BM25 search (`cairn-text`).
pub use cairn_text as text;
/// Vectors: distance kernels (cosine, dot, L2, Poincaré) and the transactional HNSW index
/// (`cairn-vector`).
pub use cairn_vector as vector;

/// Schemas: typed fields, constraints, references, rules, versions and migrations
/// (`cairn-schema`).
pub use cairn_schema as schema;
/// Time-series collections (`cairn_timeseries`).
pub use cairn_timeseries as timeseries;

pub use cairn_index::{create_index, drop_index, list_indexes, IndexInfo, IndexKind, IndexSpec};
pub use cairn_query::{aggregate, count, distinct, explain, find, Filter, FindResult, Query};
pub use cairn_query::{count_as_of, distinct_as_of, find_as_of, get_as_of, resolve_as_of, AsOf};
pub use cairn_query::{delete_many, update_many, BulkOptions, BulkReport};

use std::sync::Arc;

/// Registers the built-in models' query operators and access methods with the query layer
/// (the geometry model's `$near`, `$withinDistance`, ... and spatial indexes; B-tree and hash
/// indexes are built into it). [`open`] calls it; call it yourself only to parse filters
/// before opening any database. Idempotent and cheap.
pub fn register_query_models() {
    cairn_geo::register_query_model();
    cairn_vector::register_query_model();
    cairn_text::register_query_model();
    cairn_query::access::register(std::sync::Arc::new(graph_access::GraphQueryModel));
    cairn_query::access::register(std::sync::Arc::new(timeseries_access::TimeSeriesQueryModel));
}

/// The extension kinds every Cairn process provides (secondary, spatial, vector and full-text
/// indexes, schemas, the referenced side of schema references, invariants, edge collections
/// and their vertex side, time-series collections). Also registers the query models
/// ([`register_query_models`]): whatever keeps these indexes also queries them.
pub fn builtin_extension_kinds() -> Vec<Arc<dyn ExtensionKind>> {
    register_query_models();
    vec![
        Arc::new(cairn_index::IndexExtensionKind),
        Arc::new(cairn_geo::index::SpatialExtensionKind),
        Arc::new(cairn_vector::VectorExtensionKind),
        Arc::new(cairn_schema::SchemaExtensionKind),
        Arc::new(cairn_schema::ReferrersExtensionKind),
        Arc::new(cairn_invariant::InvariantExtensionKind),
        Arc::new(cairn_graph::EdgeExtensionKind),
        Arc::new(cairn_graph::VertexExtensionKind),
        Arc::new(cairn_timeseries::TimeSeriesExtensionKind),
        Arc::new(cairn_text::TextExtensionKind),
    ]
}

/// Opens a database with the built-in extension kinds registered (in addition to any in
/// `config`). Prefer this to `Database::open`, which registers only what `config` lists.
///
/// Index builds a crash interrupted are finished here, before the database is returned
/// ([`cairn_index::resume_builds`]; one that fails now is dropped; text indexes through
/// [`cairn_text::resume_text_builds`]), so an index never stays half-built. Opening therefore takes as long as those builds.
pub fn open(mut config: Config) -> Result<Database> {
    for kind in builtin_extension_kinds() {
        if !config
            .extension_kinds
            .iter()
            .any(|k| k.kind() == kind.kind())
        {
            config.extension_kinds.push(kind);
        }
    }
    let db = Database::open(config)?;
    cairn_index::resume_builds(&db).map_err(EngineError::from)?;
    cairn_text::resume_text_builds(&db).map_err(EngineError::from)?;
    Ok(db)
}

/// Opens a memory-only database with the built-in extension kinds registered.
pub fn open_in_memory() -> Result<Database> {
    open(Config::new(
        std::path::PathBuf::new(),
        StorageMode::MemoryOnly,
    ))
}
