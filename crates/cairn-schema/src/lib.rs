//! Cairn's schemas: what a collection's documents must look like, enforced by the database.
//!
//! Collections are schemaless until a schema is set. A schema is an extension of its
//! collection (kind [`SCHEMA_KIND`], see `cairn_engine::extension`): its
//! [`Extension::prepare_write`](cairn_engine::Extension::prepare_write) hook fills defaults,
//! stamps the schema version into the document and refuses documents that break a type,
//! constraint, reference or rule, inside the writing transaction — so a refused write leaves
//! no trace, and checks that read other documents are conflict-checked.
//!
//! * `definition.rs`: the schema document (JSON or YAML) and its field types ([`Schema`]).
//! * `validate.rs`: checking a document, filling defaults.
//! * `expr/`: the validation-rule expression language (bounded, side-effect free).
//! * `compat.rs`: which changes apply at once and which need a migration
//!   ([`incompatibilities`]).
//! * `extension.rs`: the write hooks (schema, and the referenced side of references).
//! * `admin.rs`: set, show and the version history ([`set_schema`], [`history`]).
//! * `migrate.rs`: online, resumable migrations with a dry run ([`migrate()`], [`dry_run`]).
//!
//! Surface: the items re-exported below and one public namespace, [`limits`] (the named
//! bounds, so callers can quote them); every other module is private.

mod admin;
mod compat;
mod definition;
mod error;
mod expr;
mod extension;
mod layout;
pub mod limits;
mod migrate;
mod validate;

pub use admin::{history, parse_schema_file, schema_of, set_schema, HistoryEntry, SchemaInfo};
pub use compat::{incompatibilities, Incompatibility};
pub use definition::{FieldDef, FieldType, ObjectDef, OnDelete, Reference, Rule, Schema, Shape};
pub use error::{Result, SchemaError};
pub use extension::{
    ReferrersExtensionKind, SchemaExtensionKind, REFERRERS_KIND, SCHEMA_KIND, SCHEMA_VERSION_FIELD,
};
pub use migrate::{
    dry_run, migrate, DryRunReport, MigrateOptions, Migration, MigrationProgress, Transform,
};
