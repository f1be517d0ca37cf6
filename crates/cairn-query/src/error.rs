//! Errors of the query layer.

use cairn_engine::EngineError;
use cairn_index::IndexError;

/// What can go wrong parsing or running a query or pipeline.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The filter, sort, projection or pipeline is malformed; `at` names where.
    #[error("invalid query at `{at}`: {reason}")]
    Invalid {
        /// Where in the query (e.g. `$and[1].age.$gt`).
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// The query ran longer than its time budget.
    #[error(
        "query exceeded its time budget of {budget_ms} ms after examining {examined} documents"
    )]
    TimedOut {
        /// The budget.
        budget_ms: u64,
        /// Documents examined before stopping.
        examined: u64,
    },
    /// The caller cancelled the work (see [`crate::cancel`]): a server's request went away.
    #[error("the query was cancelled: its request is gone")]
    Cancelled,
    /// A size limit was exceeded (result documents, sort or group memory...).
    #[error("{what} exceeded the limit of {limit}; {hint}")]
    TooLarge {
        /// What grew too large.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// How to stay within it.
        hint: &'static str,
    },
    /// A pagination cursor is malformed or belongs to a different query.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// An "as of" read asked for a point that cannot be answered exactly: after the latest
    /// commit, or before the collection was created, dropped and recreated, or renamed.
    /// (A point before change-log retention is [`EngineError::ChangeLogTrimmed`].)
    #[error("cannot read as of sequence {seq}: {reason}")]
    AsOfUnavailable {
        /// The sequence number the read asked for (or its time resolved to).
        seq: u64,
        /// Why that point cannot be answered.
        reason: String,
    },
    /// An index error.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// An error of a registered model's index or operator (e.g. `cairn_geo::GeoError`);
    /// callers that know the model downcast it. Engine errors are never wrapped here.
    #[error(transparent)]
    Model(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An engine error (unknown collection, storage failure...).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl QueryError {
    /// An [`QueryError::Invalid`] at `at`.
    pub fn invalid(at: impl Into<String>, reason: impl Into<String>) -> QueryError {
        QueryError::Invalid {
            at: at.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias for query operations.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;
