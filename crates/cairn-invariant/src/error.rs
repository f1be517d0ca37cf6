//! Errors of the invariant layer.

use cairn_engine::EngineError;

/// What can go wrong defining, adding or reading invariants. A transaction that would break
/// an invariant fails with [`EngineError::InvariantViolation`] (wrapped in
/// [`InvariantError::Engine`] here).
#[derive(Debug, thiserror::Error)]
pub enum InvariantError {
    /// The rule text does not parse.
    #[error("invalid invariant `{rule}`: {reason}")]
    InvalidRule {
        /// The rule as given.
        rule: String,
        /// What is wrong, and where.
        reason: String,
    },
    /// No invariant of that name exists on the collection.
    #[error("invariant `{name}` does not exist on `{collection}`")]
    UnknownInvariant {
        /// The collection.
        collection: String,
        /// The name asked for.
        name: String,
    },
    /// The collection already has the maximum number of invariants.
    #[error("`{collection}` already has {count} invariants; the limit is {limit}")]
    TooManyInvariants {
        /// The collection.
        collection: String,
        /// How many it has.
        count: usize,
        /// [`crate::limits::MAX_INVARIANTS_PER_COLLECTION`].
        limit: usize,
    },
    /// Stored aggregate bytes do not decode: the extension's table is damaged.
    #[error("corrupt invariant data for `{invariant}`: {detail}")]
    Corrupt {
        /// The invariant.
        invariant: String,
        /// What was wrong.
        detail: String,
    },
    /// An engine error, including [`EngineError::InvariantViolation`].
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<InvariantError> for EngineError {
    fn from(err: InvariantError) -> EngineError {
        match err {
            InvariantError::Engine(inner) => inner,
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

impl From<cairn_doc::DocError> for InvariantError {
    fn from(err: cairn_doc::DocError) -> InvariantError {
        InvariantError::Engine(EngineError::Document(err))
    }
}

/// Result alias for invariant operations.
pub type Result<T, E = InvariantError> = std::result::Result<T, E>;
