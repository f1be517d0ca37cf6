//! The one error type of this crate.

use cairn_engine::EngineError;

/// Everything that can go wrong validating vectors and maintaining or searching a vector
/// index. Validation variants name the field (or `query` for a search vector) and the reason;
/// they reach a writer through the engine as `EngineError::ExtensionFailed` with this text.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// A vector has the wrong number of components for its index.
    #[error("`{field}` has {actual} dimensions; the index expects {expected}")]
    WrongDimension {
        /// The field (or `query`).
        field: String,
        /// The index's dimension.
        expected: usize,
        /// The vector's.
        actual: usize,
    },
    /// A component is NaN or infinite.
    #[error("`{field}` component {index} is {value}, not finite")]
    NonFinite {
        /// The field (or `query`).
        field: String,
        /// Position of the first bad component.
        index: usize,
        /// Its value as text (`NaN`, `inf`, `-inf`).
        value: String,
    },
    /// A zero vector under the cosine metric, which has no direction.
    #[error("`{field}` is a zero vector, which has no cosine distance to anything")]
    ZeroVector {
        /// The field (or `query`).
        field: String,
    },
    /// A vector on or outside the unit sphere under the Poincaré metric.
    #[error("`{field}` has norm {norm}; the poincare metric needs vectors strictly inside the unit ball (norm < 1)")]
    OutsideBall {
        /// The field (or `query`).
        field: String,
        /// The vector's Euclidean norm.
        norm: f64,
    },
    /// The indexed field holds something other than a vector (or null).
    #[error("`{field}` holds a {found}; a vector index needs a vector (`{{\"$vector\": [...]}}`) or null")]
    NotAVector {
        /// The field.
        field: String,
        /// The type found.
        found: &'static str,
    },
    /// A vector index definition is invalid.
    #[error("vector index `{name}`: {reason}")]
    InvalidDefinition {
        /// The index name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// No vector index of that name exists on the collection.
    #[error("collection `{collection}` has no vector index `{name}`")]
    UnknownIndex {
        /// The collection.
        collection: String,
        /// The name asked for.
        name: String,
    },
    /// The index is still being built and cannot answer searches yet.
    #[error("vector index `{name}` on `{collection}` is still being built")]
    NotReady {
        /// The collection.
        collection: String,
        /// The index.
        name: String,
    },
    /// A search argument is out of range.
    #[error("{reason}")]
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },
    /// A stored graph record does not decode.
    #[error("corrupt vector index `{index}`: {reason}")]
    Corrupt {
        /// The index.
        index: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A node of the graph disagrees with its document in the same snapshot (a bug: both are
    /// written by one transaction). Found by the recheck of search results and by `verify`.
    #[error("vector index `{index}` is out of step with document {id}: {reason}")]
    OutOfStep {
        /// The index.
        index: String,
        /// The document's id.
        id: String,
        /// What differs.
        reason: &'static str,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A document operation failed.
    #[error(transparent)]
    Doc(#[from] cairn_doc::DocError),
}

impl VectorError {
    /// Whether this is a vector refused by validation (wrong dimension, non-finite component,
    /// zero vector under cosine, outside the ball under poincare, not a vector): the
    /// writer's to fix, not a failure of the index.
    pub fn is_invalid_vector(&self) -> bool {
        matches!(
            self,
            VectorError::WrongDimension { .. }
                | VectorError::NonFinite { .. }
                | VectorError::ZeroVector { .. }
                | VectorError::OutsideBall { .. }
                | VectorError::NotAVector { .. }
        )
    }
}

impl From<VectorError> for EngineError {
    fn from(err: VectorError) -> EngineError {
        match err {
            VectorError::Engine(inner) => inner,
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;
