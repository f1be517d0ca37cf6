//! The one error type of this crate.

use cairn_engine::EngineError;

/// Everything that can go wrong in geometry operations and the spatial index.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// An operation that needs a closed (watertight) mesh got an open one.
    #[error("{operation} needs a closed mesh (every edge shared by exactly two triangles)")]
    NotClosed {
        /// What was asked.
        operation: &'static str,
    },
    /// `$within` was given a shape that encloses nothing.
    #[error("a {found} is not a region; `$within` takes a box, a sphere or a closed mesh")]
    NotARegion {
        /// Type of the shape given.
        found: &'static str,
    },
    /// An argument is out of range.
    #[error("{reason}")]
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },
    /// WKT text could not be read.
    #[error("WKT at byte {offset}: {reason}")]
    Wkt {
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A shape has no WKT form.
    #[error("a {found} has no WKT form")]
    NoWktForm {
        /// The shape's type.
        found: &'static str,
    },
    /// A spatial index definition is invalid.
    #[error("spatial index `{name}`: {reason}")]
    InvalidDefinition {
        /// The index name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// No spatial index of that name exists on the collection.
    #[error("collection `{collection}` has no spatial index `{name}`")]
    UnknownIndex {
        /// The collection.
        collection: String,
        /// The name asked for.
        name: String,
    },
    /// A stored spatial index entry does not decode.
    #[error("corrupt spatial index entry: {reason}")]
    CorruptEntry {
        /// What is wrong.
        reason: &'static str,
    },
    /// An online build failed (concurrent writes kept conflicting with it, or the change log
    /// was trimmed past its snapshot); the index was dropped again and the call can be retried.
    #[error(transparent)]
    Build(Box<cairn_index::IndexError>),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A document operation failed.
    #[error(transparent)]
    Doc(#[from] cairn_doc::DocError),
}

impl From<cairn_index::IndexError> for GeoError {
    fn from(err: cairn_index::IndexError) -> GeoError {
        match err {
            cairn_index::IndexError::Engine(inner) => GeoError::Engine(inner),
            other => GeoError::Build(Box::new(other)),
        }
    }
}

impl From<GeoError> for EngineError {
    fn from(err: GeoError) -> EngineError {
        match err {
            GeoError::Engine(inner) => inner,
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

/// Result alias for geometry operations.
pub type Result<T, E = GeoError> = std::result::Result<T, E>;
