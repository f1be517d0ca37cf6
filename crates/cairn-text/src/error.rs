//! Errors of the text index.

use cairn_engine::EngineError;

/// What can go wrong defining, maintaining or searching a text index.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The index definition is not valid (bad field path, unknown language, bad boost...).
    #[error("invalid text index definition `{name}`: {reason}")]
    InvalidDefinition {
        /// The index name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// No text index of that name exists on the collection.
    #[error("text index `{name}` does not exist on `{collection}`")]
    UnknownIndex {
        /// The collection.
        collection: String,
        /// The index name.
        name: String,
    },
    /// The query string could not be parsed.
    #[error("invalid text query at byte {at}: {reason}")]
    InvalidQuery {
        /// Byte offset in the query string where the problem was found.
        at: usize,
        /// What is wrong.
        reason: String,
    },
    /// A prefix or fuzzy clause matches more dictionary terms than a search may expand.
    #[error(
        "`{clause}` matches more than {limit} terms in field `{field}`; make it more specific"
    )]
    TooManyExpansions {
        /// The clause as written.
        clause: String,
        /// The field searched.
        field: String,
        /// The limit ([`crate::limits::MAX_EXPANSIONS`]).
        limit: usize,
    },
    /// A stored entry could not be decoded: the index is damaged (`verify` tells more).
    #[error("corrupt text index entry in table `{table}`")]
    Corrupt {
        /// The table holding the entry.
        table: &'static str,
    },
    /// The index is still being built and cannot answer searches yet.
    #[error("text index `{name}` is not ready (its build has not finished)")]
    NotReady {
        /// The index name.
        name: String,
    },
    /// An engine error.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<TextError> for EngineError {
    fn from(err: TextError) -> EngineError {
        match err {
            TextError::Engine(inner) => inner,
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

impl From<cairn_doc::DocError> for TextError {
    fn from(err: cairn_doc::DocError) -> TextError {
        TextError::Engine(EngineError::from(err))
    }
}

/// Result alias for text index operations.
pub type Result<T, E = TextError> = std::result::Result<T, E>;
