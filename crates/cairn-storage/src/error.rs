//! The storage layer's error type.

use std::path::PathBuf;

/// Everything that can go wrong below the engine.
///
/// redb's own error types are flattened into these variants (with redb's message kept) so that
/// no caller needs to import redb to act on an error.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Another process (or another `Store` in this one) holds the database file.
    #[error("database at {path} is already open in another process")]
    AlreadyOpen {
        /// The data file that is locked.
        path: PathBuf,
    },
    /// The data file failed a checksum or structural check.
    #[error("storage is corrupted: {detail}")]
    Corrupted {
        /// What the storage engine reported.
        detail: String,
    },
    /// The data file was written by an incompatible storage-engine version.
    #[error("data file format is not supported: {detail}")]
    UnsupportedFormat {
        /// What the storage engine reported.
        detail: String,
    },
    /// The operating system refused an I/O operation (disk full, permissions, missing folder...).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The disk (or the user's quota) is full: a write could not be stored. Nothing
    /// acknowledged is lost; once space is freed the store reopens itself at the next write
    /// (see `reopen.rs`).
    #[error("the disk holding the database is full ({detail}); free space and retry — writes resume by themselves")]
    DiskFull {
        /// The operating system's message.
        detail: String,
    },
    /// Reading or writing the data file failed with an I/O error, after which the storage
    /// engine refuses further work until the file is reopened; the store reopens itself at the
    /// next write (see `reopen.rs`).
    #[error("I/O error on the data file ({detail}); the store reopens itself at the next write")]
    IoFailed {
        /// The operating system's (or storage engine's) message.
        detail: String,
    },
    /// A key or value exceeds what the storage engine can hold in one entry.
    #[error("entry in table `{table}` is {size_bytes} bytes; the storage limit is {limit_bytes}")]
    EntryTooLarge {
        /// The table written.
        table: String,
        /// Size of the rejected key plus value.
        size_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
    /// The database is encrypted and no key was given.
    #[error("the database at {path} is encrypted: give its passphrase (CAIRN_PASSPHRASE) or key file (--key-file)")]
    KeyRequired {
        /// The database folder.
        path: PathBuf,
    },
    /// The key given does not unwrap the database's data key.
    #[error("wrong key for the encrypted database (keyring {path})")]
    WrongKey {
        /// The keyring file.
        path: PathBuf,
    },
    /// A passphrase was given for a database created with a raw key, or the other way round.
    #[error("the encrypted database (keyring {path}) is opened with {needed}")]
    KeyKindMismatch {
        /// The keyring file.
        path: PathBuf,
        /// What opens it.
        needed: &'static str,
    },
    /// A key was given for an existing database that is not encrypted.
    #[error("the database at {path} is not encrypted; a key was given (restore a backup into an encrypted database to encrypt it)")]
    NotEncrypted {
        /// The database folder.
        path: PathBuf,
    },
    /// The keyring file is damaged or not a keyring.
    #[error("keyring {path} is unreadable: {detail}")]
    KeyringCorrupt {
        /// The keyring file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// An encrypted block failed authentication: the file was modified outside Cairn.
    #[error("encrypted block {block} of the data file failed authentication: the file was modified or damaged")]
    Tampered {
        /// The logical block index.
        block: u64,
    },
    /// The write-ahead log is damaged where a torn tail cannot be (inside the log, not at the
    /// end of its newest segment), a record is missing, or a record does not decode or
    /// authenticate: the database does not open, since the commits after that point cannot
    /// be recovered in order. Restore a backup, or move the segment away to give up those
    /// commits knowingly.
    #[error("write-ahead log segment {segment} is damaged at byte {offset}: {detail}")]
    WalCorrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the damaged record in it.
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// The cryptographic machinery failed (no randomness, bad parameters).
    #[error("encryption failure: {detail}")]
    Crypto {
        /// What failed.
        detail: String,
    },
    /// Any other failure reported by the storage engine; the message is redb's.
    #[error("storage engine error during {operation}: {detail}")]
    Engine {
        /// What the store was doing.
        operation: &'static str,
        /// The storage engine's message.
        detail: String,
    },
}

impl StorageError {
    /// Wraps a storage-engine error that has no more specific variant.
    pub(crate) fn engine(operation: &'static str, err: impl std::fmt::Display) -> Self {
        StorageError::Engine {
            operation,
            detail: err.to_string(),
        }
    }
}

impl From<redb::StorageError> for StorageError {
    fn from(err: redb::StorageError) -> Self {
        match err {
            redb::StorageError::Corrupted(detail) => StorageError::Corrupted { detail },
            redb::StorageError::ValueTooLarge(size) => StorageError::EntryTooLarge {
                table: String::new(),
                size_bytes: size as u64,
                limit_bytes: u32::MAX as u64,
            },
            redb::StorageError::Io(err) => match tampered_block(&err) {
                Some(block) => StorageError::Tampered { block },
                None if is_disk_full(&err) => StorageError::DiskFull {
                    detail: err.to_string(),
                },
                None => StorageError::IoFailed {
                    detail: err.to_string(),
                },
            },
            redb::StorageError::PreviousIo => StorageError::IoFailed {
                detail: "an earlier I/O error disabled the data file".to_string(),
            },
            other => StorageError::engine("storage access", other),
        }
    }
}

impl From<redb::TableError> for StorageError {
    fn from(err: redb::TableError) -> Self {
        match err {
            redb::TableError::Storage(inner) => inner.into(),
            other => StorageError::engine("table access", other),
        }
    }
}

impl From<redb::TransactionError> for StorageError {
    fn from(err: redb::TransactionError) -> Self {
        match err {
            redb::TransactionError::Storage(inner) => inner.into(),
            other => StorageError::engine("begin transaction", other),
        }
    }
}

impl From<redb::CommitError> for StorageError {
    fn from(err: redb::CommitError) -> Self {
        match err {
            redb::CommitError::Storage(inner) => inner.into(),
            other => StorageError::engine("commit", other),
        }
    }
}

impl StorageError {
    /// Whether this error leaves the storage engine refusing further work until the data file
    /// is reopened (a failed write: disk full or another I/O error).
    pub fn disables_store(&self) -> bool {
        matches!(
            self,
            StorageError::DiskFull { .. } | StorageError::IoFailed { .. }
        )
    }
}

/// Whether an I/O error says the disk or quota is full (`ENOSPC`, `EDQUOT`).
pub(crate) fn is_disk_full(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// The block named by an authentication failure of the encrypted backend, if that is what
/// `err` is.
pub(crate) fn tampered_block(err: &std::io::Error) -> Option<u64> {
    err.get_ref()?
        .downcast_ref::<crate::encrypted_backend::BlockAuthFailed>()
        .map(|failed| failed.block)
}
