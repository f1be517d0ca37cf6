//! Errors of the index layer.

use cairn_engine::EngineError;

/// What can go wrong defining, building or reading an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index definition is not valid (bad field path, too many fields, bad kind...).
    #[error("invalid index definition `{name}`: {reason}")]
    InvalidDefinition {
        /// The index name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// No index of that name exists on the collection.
    #[error("index `{name}` does not exist on `{collection}`")]
    UnknownIndex {
        /// The collection.
        collection: String,
        /// The index name.
        name: String,
    },
    /// An index entry could not be decoded: the index is damaged.
    #[error("corrupt index key")]
    CorruptKey,
    /// The index build was abandoned (the change log moved past the build's snapshot).
    #[error("index `{name}` build on `{collection}` failed: {reason}")]
    BuildFailed {
        /// The collection.
        collection: String,
        /// The index name.
        name: String,
        /// Why.
        reason: String,
    },
    /// An engine error (including unique violations, which the engine reports as
    /// [`EngineError::UniqueViolation`]).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<IndexError> for EngineError {
    fn from(err: IndexError) -> EngineError {
        match err {
            IndexError::Engine(inner) => inner,
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

/// Result alias for index operations.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;
