//! Cairn's engine: collections of documents, serializable transactions, group commit, the
//! change log, the routing index, and the extension point for indexes and data models.
//!
//! Layering: this crate stores everything through `cairn-storage` (never redb directly) and
//! represents documents with `cairn-doc`. It knows nothing of queries, servers or replication.
//!
//! Start at [`Database`]; write through [`Transaction`]; maintain derived data through
//! [`Extension`].
//!
//! Inside, the files stack catalog -> collection -> database -> transaction, each naming only
//! what is below it: `catalog.rs` (collection metadata as stored), `collection.rs` (a resolved
//! collection and the cache of them), `db_inner.rs` (the internals one open database shares),
//! `txn.rs` and the files that extend [`Transaction`] (`doc_write.rs`, `ddl.rs`,
//! `commit_check.rs`), then the public handle `database.rs` and what runs on top of it
//! (`background.rs`, `locate.rs`, `reclaim.rs`, `maintenance.rs`, `verify.rs`, `backup/`). The
//! one knot left is the [`Extension`] interface, whose callbacks take the transaction they
//! write in.

mod background;
pub mod backup;
mod catalog;
mod changelog;
mod collection;
mod commit_check;
mod committer;
mod compression;
mod conflict;
mod database;
mod db_inner;
mod ddl;
mod dictionary;
mod doc_write;
mod elided;
mod error;
mod extension;
pub mod layout;
pub mod limits;
mod locate;
mod maintenance;
mod merge_scan;
mod packed;
mod read_view;
mod reclaim;
mod record;
mod retention;
mod txn;
mod verify;
mod view_state;
mod writeset;

pub use background::{BackgroundRead, BackgroundStop};
pub use catalog::{
    is_system_collection, validate_name, CollectionMeta, CollectionOptions, ExtensionSpec,
    SYSTEM_COLLECTION_PREFIX,
};
pub use changelog::{Change, ChangeOp};
pub use compression::{Compression, DEFAULT_ZSTD_LEVEL};
pub use database::{
    check_integrity, stored_mode_name, stored_mode_name_with_key, BatchOp, BatchResult,
    CollectionStats, Config, Database, DatabaseStats, IntegrityReport, PACKED_RUNS_ENV,
};
pub use dictionary::{RETRAIN_GROWTH, TRAIN_MIN_DOCS};
pub use error::{EngineError, Result};
pub use extension::{
    DocChange, Extension, ExtensionKind, ExtensionTableStats, ExtensionTxn, ScanStep,
};
pub use limits::{MAX_BACKGROUND_CLOSE_WAIT, MAX_REPORTED_FINDINGS};
pub use locate::Located;
pub use maintenance::{compact, CompactReport, CompressionStats};
pub use merge_scan::Direction;
pub use txn::{CasOutcome, PendingCommit, Transaction, Upserted};
pub use verify::{check_database, verify_extensions, CheckReport, Finding};

pub use cairn_storage::{
    allocated_bytes, is_encrypted, rekey, KeySource, RotationReport, StorageError, StorageMode,
    WalSettings, DATA_FILE_NAME, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_INTERVAL, KEY_BYTES,
    ROTATION_CHUNK_BLOCKS, WAL_DIR_NAME,
};
