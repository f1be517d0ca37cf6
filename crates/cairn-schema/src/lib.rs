//! Cairn's schemas: what a collection's documents must look like, enforced by the database.
//!
//! Collections are schemaless until a schema is set. A schema is an extension of its
//! collection (kind [`SCHEMA_KIND`], see `cairn_engine::extension`): its
//! [`Extension::prepare_write`](cairn_engine::Extension::prepare_write) hook fills defaults,
//! stamps the schema version into the document and refuses documents that break a type,
//! constraint, reference or rule, inside the writing transaction — so a refused write leaves
//! no trace, and checks that read other documents are conflict-checked.
//!
//! * [`definition`]: the schema document (JSON or YAML) and its field types.
//! * [`validate`]: checking a document, filling defaults.
//! * [`expr`]: the validation-rule expression language (bounded, side-effect free).
//! * [`compat`]: which changes apply at once and which need a migration.
//! * [`extension`]: the write hooks (schema, and the referenced side of references).
//! * [`admin`]: set, show and the version history.
//! * [`migrate`]: online, resumable migrations with a dry run.

pub mod admin;
pub mod compat;
pub mod definition;
mod error;
pub mod expr;
pub mod extension;
pub mod layout;
pub mod limits;
pub mod migrate;
pub mod validate;

pub use admin::{history, parse_schema_file, schema_of, set_schema, HistoryEntry, SchemaInfo};
pub use compat::{incompatibilities, Incompatibility};
pub use definition::{FieldDef, FieldType, ObjectDef, OnDelete, Reference, Rule, Schema, Shape};
pub use error::{Result, SchemaError};
pub use extension::{
    ReferrersExtensionKind, SchemaExtensionKind, REFERRERS_KIND, SCHEMA_KIND, SCHEMA_VERSION_FIELD,
};
pub use migrate::{dry_run, migrate, DryRunReport, Migration, MigrationProgress};
