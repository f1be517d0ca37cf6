//! Errors of schema inference.

use cairn_engine::EngineError;

/// What can go wrong keeping or reading inferred schemas.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The stored statistics do not decode: their document is damaged.
    #[error("corrupt inferred schema of `{collection}`: {detail}")]
    Corrupt {
        /// The collection.
        collection: String,
        /// What was wrong.
        detail: String,
    },
    /// Catching up kept conflicting with concurrent catch-ups or DDL.
    #[error(
        "inferring the schema of `{collection}` kept conflicting with concurrent changes; retry"
    )]
    Busy {
        /// The collection.
        collection: String,
    },
    /// An engine error.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<cairn_doc::DocError> for InferError {
    fn from(err: cairn_doc::DocError) -> InferError {
        InferError::Engine(EngineError::Document(err))
    }
}

/// Result alias for inference operations.
pub type Result<T, E = InferError> = std::result::Result<T, E>;
