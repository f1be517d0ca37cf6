//! Cairn's engine: collections of documents, serializable transactions, group commit, the
//! change log, the routing index, and the extension point for indexes and data models.
//!
//! Layering: this crate stores everything through `cairn-storage` (never redb directly) and
//! represents documents with `cairn-doc`. It knows nothing of queries, servers or replication.
//!
//! Start at [`Database`]; write through [`Transaction`]; maintain derived data through
//! [`Extension`].

mod catalog;
mod changelog;
mod committer;
mod conflict;
mod database;
mod ddl;
mod error;
mod extension;
pub mod layout;
pub mod limits;
mod merge_scan;
mod read_view;
mod record;
mod txn;
mod writeset;

pub use catalog::{
    is_system_collection, validate_name, CollectionMeta, ExtensionSpec, SYSTEM_COLLECTION_PREFIX,
};
pub use changelog::{Change, ChangeOp};
pub use database::{
    check_integrity, stored_mode_name, BatchOp, BatchResult, CollectionStats, Config, Database,
    DatabaseStats, IntegrityReport,
};
pub use error::{EngineError, Result};
pub use extension::{DocChange, Extension, ExtensionKind, ExtensionTxn};
pub use txn::{CasOutcome, PendingCommit, Transaction, Upserted};

pub use cairn_storage::{allocated_bytes, StorageMode, DATA_FILE_NAME};
