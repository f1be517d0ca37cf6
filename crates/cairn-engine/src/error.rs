//! The engine's error type.

use cairn_doc::{DocError, DocId, Value};
use cairn_storage::StorageError;

/// Everything an engine operation can fail with. Each variant names what was wrong so a caller
/// (or a user reading the CLI's stderr) can act on it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The named collection does not exist.
    #[error("collection `{name}` does not exist")]
    UnknownCollection {
        /// The name asked for.
        name: String,
    },
    /// A collection with that name already exists.
    #[error("collection `{name}` already exists")]
    CollectionExists {
        /// The name asked for.
        name: String,
    },
    /// The collection name breaks the naming rules.
    #[error("invalid collection name `{name}`: {reason}")]
    InvalidCollectionName {
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// An insert used an `_id` that the collection already holds.
    #[error("document `{id}` already exists in `{collection}`")]
    DuplicateId {
        /// The collection written.
        collection: String,
        /// The clashing id.
        id: DocId,
    },
    /// The document to read, update or replace does not exist.
    #[error("document `{id}` not found in `{collection}`")]
    DocumentNotFound {
        /// The collection read.
        collection: String,
        /// The missing id.
        id: DocId,
    },
    /// A replacement document carries an `_id` different from the one addressed.
    #[error("document addressed as `{addressed}` carries a different `_id` `{found}`")]
    IdMismatch {
        /// The id in the request path.
        addressed: DocId,
        /// The id inside the document.
        found: DocId,
    },
    /// The document (or patch, or id) is malformed or breaks a document limit.
    #[error("invalid document: {0}")]
    Document(#[from] DocError),
    /// A batch or transaction exceeds one of the engine's size limits.
    #[error("{what} is {actual}; the limit is {limit}")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The offending amount.
        actual: u64,
        /// The limit.
        limit: u64,
    },
    /// Another transaction committed a change to data this transaction read. Retry it: the
    /// single-operation API and [`crate::Database::transaction`] do so automatically.
    #[error("transaction conflicts with a concurrent commit to `{table}`; retry it")]
    Conflict {
        /// Table where the conflicting change landed.
        table: String,
    },
    /// The transaction's snapshot is older than the conflict-tracking window; retry it.
    #[error("transaction snapshot at sequence {snapshot_seq} is too old (oldest tracked is {oldest_tracked_seq}); retry it")]
    TransactionTooOld {
        /// Where the transaction's snapshot stands.
        snapshot_seq: u64,
        /// The oldest snapshot the engine can still validate.
        oldest_tracked_seq: u64,
    },
    /// The change log no longer holds the requested sequence number (retention removed it).
    #[error("change log starts at sequence {oldest_available}; sequence {requested} has been trimmed by retention")]
    ChangeLogTrimmed {
        /// The sequence number asked for.
        requested: u64,
        /// The oldest sequence number still held.
        oldest_available: u64,
    },
    /// A collection's history does not reach back to the requested point: its own retention
    /// (or, without one, the database's) no longer holds every change it had after it.
    #[error("collection `{collection}` keeps its history back to sequence {oldest_available} ({retention}); sequence {requested} is before that")]
    CollectionHistoryTrimmed {
        /// The collection.
        collection: String,
        /// The point asked for.
        requested: u64,
        /// The oldest point that can still be read.
        oldest_available: u64,
        /// Which retention decides, in words (`its retention of 500 changes`).
        retention: String,
    },
    /// Stored bytes failed to decode: the file is damaged or was written by a newer Cairn.
    #[error("corrupt data in `{table}`: {detail}")]
    Corrupt {
        /// The table holding the bad entry.
        table: String,
        /// What was wrong.
        detail: String,
    },
    /// A stored document or change record failed its checksum (or did not decode): the data
    /// file was damaged on disk. The read is refused rather than answered with wrong data;
    /// restore the database from a backup (`cairn check` lists every damaged record).
    #[error("corruption in `{collection}`, document `{id}`: {detail} (`cairn check` lists the damage; restore from a backup)")]
    Corruption {
        /// The collection holding the damaged record (`sys.changelog` for a change record).
        collection: String,
        /// The document's id (or the change's `seq:index`).
        id: String,
        /// What was wrong.
        detail: String,
    },
    /// An extension (secondary index, model structure) rejected a write.
    #[error("extension `{extension}` on `{collection}` rejected the write: {message}")]
    ExtensionRejected {
        /// The collection written.
        collection: String,
        /// The extension's name.
        extension: String,
        /// The extension's explanation.
        message: String,
    },
    /// The database records an extension of a kind that was not registered when opening it.
    #[error(
        "collection `{collection}` uses extension kind `{kind}`, which this build does not provide"
    )]
    UnknownExtensionKind {
        /// The collection.
        collection: String,
        /// The missing kind.
        kind: String,
    },
    /// An extension with that name is already attached, or none is when detaching.
    #[error("extension `{name}` on `{collection}`: {reason}")]
    ExtensionState {
        /// The collection.
        collection: String,
        /// The extension's name.
        name: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A backup file is damaged (checksum, authentication or format).
    #[error("backup piece {path} is corrupt: {detail}")]
    BackupCorrupt {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A file the backup manifest lists is missing.
    #[error("backup piece {path} is missing (the manifest lists it)")]
    BackupPieceMissing {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A backup's encryption does not match the key given (or the database backed up).
    #[error("backup {path} is {}; {}", if *.encrypted { "encrypted" } else { "not encrypted" }, if *.encrypted { "give the database's passphrase (CAIRN_PASSPHRASE) or key file" } else { "it cannot continue a chain of an encrypted database, or be opened with a key" })]
    BackupKey {
        /// The backup file or folder.
        path: std::path::PathBuf,
        /// Whether the backup is encrypted.
        encrypted: bool,
    },
    /// An incremental backup was asked for after the database's data key was rotated: the
    /// chain so far is sealed with the old key, which the database no longer holds.
    #[error("the data key of the database was rotated since the last backup in {dir} (key {chain_key} -> {database_key}); take a full backup to start a new chain")]
    BackupKeyRotated {
        /// The backup folder.
        dir: std::path::PathBuf,
        /// The data key of the chain's last piece.
        chain_key: u32,
        /// The database's data key now.
        database_key: u32,
    },
    /// The folder holds no backup (no manifest), or no full backup to build on.
    #[error("no backup in {dir}: {detail}")]
    NoBackup {
        /// The backup folder.
        dir: std::path::PathBuf,
        /// What is missing.
        detail: &'static str,
    },
    /// The pieces of a backup do not form a chain (a range is missing or overlaps).
    #[error("backup chain in {dir} is broken: {detail}")]
    BackupChain {
        /// The backup folder.
        dir: std::path::PathBuf,
        /// Where the chain breaks.
        detail: String,
    },
    /// An incremental backup would start before what the change log still holds.
    #[error("incremental backup needs the changes after sequence {base_seq}, but the change log starts at {oldest_available} (retention trimmed the rest): take a full backup, or raise changelog retention")]
    BackupBaseTrimmed {
        /// Where the previous backup ended.
        base_seq: u64,
        /// The oldest sequence number the log still holds.
        oldest_available: u64,
    },
    /// The restore point is older than every full backup in the chain.
    #[error("no full backup in the chain is as old as {target}; the oldest ends at {oldest}")]
    RestoreTargetTooOld {
        /// The requested point.
        target: String,
        /// Where the oldest full backup ends.
        oldest: String,
    },
    /// The restore destination already holds something.
    #[error("restore destination {path} already exists; restore into a new folder")]
    RestoreDestinationExists {
        /// The destination.
        path: std::path::PathBuf,
    },
    /// A change in an incremental backup cannot be replayed.
    #[error("cannot replay commit {seq}: {detail}")]
    Unreplayable {
        /// The commit.
        seq: u64,
        /// Why.
        detail: String,
    },
    /// A write would give two documents the same value in a unique index. Nothing of the
    /// write (or of its transaction) is stored.
    #[error(
        "unique index `{index}` on `{collection}` already has {value} (document `{existing}`)"
    )]
    UniqueViolation {
        /// The collection.
        collection: String,
        /// The unique index.
        index: String,
        /// The duplicated value, as JSON.
        value: String,
        /// The document that already holds the value.
        existing: DocId,
    },
    /// A transaction would break a commit-time invariant declared on the collection (a
    /// conserved sum, a field bound, a group-sum bound). The whole transaction is rejected;
    /// nothing of it is stored. Retrying it unchanged fails the same way.
    #[error("invariant `{invariant}` on `{collection}` ({rule}) would be broken: {detail}")]
    InvariantViolation {
        /// The collection.
        collection: String,
        /// The invariant's name.
        invariant: String,
        /// The invariant as declared, e.g. `sum(amount) by account >= 0`.
        rule: String,
        /// What would break it, with the amounts, for people.
        detail: String,
        /// The amounts involved, by name (`before`, `after`, `delta`, `value`, `bound`,
        /// `group`, `document`...), for programs.
        amounts: Box<[(String, Value)]>,
    },
    /// A document does not match its collection's schema (type, required field, constraint,
    /// unknown field). Nothing of the write (or of its transaction) is stored.
    #[error("document `{id}` in `{collection}` violates the schema at `{path}`: {reason}")]
    SchemaViolation {
        /// The collection written.
        collection: String,
        /// The document.
        id: DocId,
        /// The field path (`.` for the whole document).
        path: String,
        /// What is wrong, with the offending value.
        reason: String,
    },
    /// A write references a missing document, or a delete is restricted by documents that
    /// reference it.
    #[error("document `{id}` in `{collection}`: {reason}")]
    ReferenceViolation {
        /// The collection written.
        collection: String,
        /// The document written or deleted.
        id: DocId,
        /// The reference and what is wrong with it.
        reason: String,
    },
    /// A document fails a validation rule of its collection's schema.
    #[error("document `{id}` in `{collection}` fails rule `{rule}` ({values})")]
    RuleViolation {
        /// The collection written.
        collection: String,
        /// The document.
        id: DocId,
        /// The rule's name.
        rule: String,
        /// The fields the rule reads and their values (`a = 1, b = 2`), or why it could not
        /// be evaluated.
        values: String,
    },
    /// An extension failed for a reason other than refusing the write (damaged data, a bad
    /// stored configuration).
    #[error("extension failed: {message}")]
    ExtensionFailed {
        /// What happened.
        message: String,
    },
    #[error("a read-only transaction cannot write")]
    /// A write was attempted through a read-only transaction ([`crate::Database::read`]).
    ReadOnlyTransaction,
    /// The database was shut down while the operation was in flight.
    #[error("the database is closed")]
    Closed,
    /// The storage layer failed (I/O error, corruption, file locked by another process).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl EngineError {
    /// Whether retrying the whole transaction may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            EngineError::Conflict { .. } | EngineError::TransactionTooOld { .. }
        )
    }

    /// Whether the error reports damaged stored data (a record failing its checksum or
    /// decode, a damaged storage page, an encrypted block failing authentication): the answer
    /// a reader gets instead of wrong data. Retrying does not help; restoring a backup does.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            EngineError::Corruption { .. }
                | EngineError::Corrupt { .. }
                | EngineError::Storage(
                    StorageError::Corrupted { .. } | StorageError::Tampered { .. }
                )
        )
    }

    pub(crate) fn corrupt(table: &str, detail: impl std::fmt::Display) -> Self {
        EngineError::Corrupt {
            table: table.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Result alias for engine operations.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
