//! What can go wrong with an external source. Every message is built from redacted text: a
//! password in a source's URL never reaches an error (nor a log line built from one).

/// An external source's failure.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `--kind` names no kind Cairn reads.
    #[error("unknown source kind `{kind}`; expected one of postgres, sqlite, csv, parquet, json")]
    UnknownKind {
        /// What was given.
        kind: String,
    },
    /// The kind is known but this build cannot read it yet.
    #[error("source kind `{kind}` is not supported yet: {reason}")]
    UnsupportedKind {
        /// The kind.
        kind: String,
        /// Why.
        reason: &'static str,
    },
    /// The name is not a valid source name.
    #[error("invalid source name `{name}`: {reason}")]
    InvalidName {
        /// What was given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URL does not fit the kind (already redacted).
    #[error("invalid URL for source `{name}` ({kind}): {reason} (got `{url}`)")]
    InvalidUrl {
        /// The source.
        name: String,
        /// Its kind.
        kind: String,
        /// The URL with its password replaced.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A source of that name exists.
    #[error("source `{name}` already exists")]
    Exists {
        /// The name.
        name: String,
    },
    /// No source of that name exists.
    #[error("unknown source `{name}`")]
    Unknown {
        /// The name.
        name: String,
    },
    /// The source could not be reached or refused the request (message redacted).
    #[error("source `{name}` is unavailable: {reason}")]
    Unavailable {
        /// The source.
        name: String,
        /// What failed.
        reason: String,
    },
    /// A value read from the source does not fit its column.
    #[error("source `{name}`: column `{column}`: {reason}")]
    BadValue {
        /// The source.
        name: String,
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// Too many sources are defined ([`crate::limits::MAX_SOURCES`]).
    #[error("too many sources: the limit is {limit}")]
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// Reading or writing the stored definitions failed.
    #[error("{0}")]
    Engine(#[from] cairn::EngineError),
}

impl SourceError {
    /// The PostgreSQL SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            SourceError::UnknownKind { .. } | SourceError::InvalidUrl { .. } => "22023",
            SourceError::UnsupportedKind { .. } => "0A000",
            SourceError::InvalidName { .. } => "42602",
            SourceError::Exists { .. } => "42710",
            SourceError::Unknown { .. } => "42704",
            SourceError::Unavailable { .. } => "08001",
            SourceError::BadValue { .. } => "22000",
            SourceError::TooMany { .. } => "54000",
            SourceError::Engine(err) => crate::engine_sqlstate(err),
        }
    }
}
