//! Ordered byte tables for Cairn, stored through redb.
//!
//! This crate is the bottom layer. It offers named, ordered `bytes -> bytes` tables, snapshot
//! reads that never block the writer, and atomic commits across several tables — and nothing
//! else. It knows nothing about documents, collections or sequence numbers; the engine builds
//! those on top. No other crate in the workspace imports `redb`: every redb type stays behind the
//! wrappers here, so the engine could move to another backend without reshaping.
//!
//! * [`Store`] opens a database in one of the [`StorageMode`]s.
//! * [`Snapshot`] is a consistent read view; [`TableReader`] reads one table of it. Snapshots
//!   taken with no commit in between share one view and its opened tables
//!   (`snapshot_cache.rs`).
//! * [`WriteTxn`] is the (single) write transaction; [`TableWriter`] writes one table of it.
//! * Encryption at rest sits below redb: `encrypted_backend.rs` is a redb storage backend that
//!   seals every 4 KiB block with AES-256-GCM; `keyring.rs` keeps the wrapped data key beside
//!   the data file; [`Cipher`] is shared with backups so they are sealed with the same key;
//!   `rotation.rs` re-encrypts the data file under a new data key while it stays open.
//! * Durability comes from the write-ahead log (`wal/`): every commit's table writes are
//!   appended as one record and synced; the data file is synced only at checkpoints.

mod cipher;
mod contain;
mod encrypted_backend;
mod error;
mod keyring;
mod limits;
mod mode;
mod reopen;
mod rotation;
mod snapshot;
mod snapshot_cache;
mod store;
mod table_read;
mod wal;
mod write;

pub use cipher::{Cipher, KeySource, KEY_BYTES};
pub use encrypted_backend::{slot_key_ids, BLOCK_BYTES, SLOT_BYTES};
pub use error::StorageError;
pub use keyring::{
    is_encrypted, keyring_path, rekey, unlock, unlock_keys, DataKeys, KEYRING_FILE_NAME,
};
pub use limits::{MAX_DATA_KEY_ID, MAX_OPEN_TABLES_PER_SNAPSHOT, MAX_WAL_RECORD_BYTES};
pub use mode::{StorageMode, DEFAULT_FLUSH_INTERVAL, DEFAULT_HYBRID_MEMORY_BUDGET_BYTES};
pub use reopen::SPACE_PROBE_BYTES;
pub use rotation::{RotationReport, ROTATION_CHUNK_BLOCKS};
pub use snapshot::{Entry, RangeIter, Snapshot, TableReader, TableStats};
pub use store::{
    allocated_bytes, Store, StoreConfig, StoreStats, DATA_FILE_NAME, ROTATION_JOURNAL_FILE_NAME,
};
pub use wal::{
    WalReport, WalSettings, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_INTERVAL, WAL_DIR_NAME,
};
pub use write::{TableWriter, WriteTxn};

/// Result alias for storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
