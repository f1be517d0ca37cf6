//! The tables of a schema and their key formats: the on-disk map of this crate. Every table
//! lives under the schema extension's prefix `c{collection}.x.schema.`; the schema itself is
//! the extension's catalog configuration (`{version, schema, migration?}`).
//!
//! - [`HISTORY_TABLE`]: version (u64 BE) ‖ event → the history entry (who, when, changes,
//!   definition).
//! - [`MIGRATION_TABLE`]: [`PROGRESS_KEY`] → the cursor of the migration in progress.

/// The migration state table of the schema extension.
pub const MIGRATION_TABLE: &str = "migration";
/// The one key of [`MIGRATION_TABLE`]: the cursor of the migration in progress.
pub const PROGRESS_KEY: &[u8] = b"progress";
/// The history table of the schema extension: key = version (u64 BE) ‖ event (0 set or
/// migration started, 1 migration finished).
pub const HISTORY_TABLE: &str = "history";
