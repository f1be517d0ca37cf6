//! Errors of the graph layer.

use cairn_doc::DocId;
use cairn_engine::EngineError;

/// What can go wrong defining edge collections or running graph queries. A write that breaks
/// the edge form or a referential rule fails inside the engine with its typed
/// [`EngineError::SchemaViolation`] (a malformed `_from`/`_to`, `path` naming the field) or
/// [`EngineError::ReferenceViolation`] (a missing vertex, a restricted delete), carried in
/// [`GraphError::Engine`] here.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The collection has no edge extension: it was not created as an edge collection.
    #[error("`{collection}` is not an edge collection (create it with `create_edge_collection` or `cairn collection create {collection} --edges`)")]
    NotEdgeCollection {
        /// The collection named.
        collection: String,
    },
    /// A vertex reference (`"collection/id"` or `{"collection", "id"}`) is malformed.
    #[error("invalid vertex reference in `{field}`: {reason}")]
    InvalidVertex {
        /// Where the reference was given (`_from`, `_to`, `start`, ...).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An edge collection's name is too long to name its vertex-side registrations.
    #[error("edge collection name `{name}` is {actual} bytes; the limit is {limit}")]
    NameTooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        actual: usize,
        /// [`crate::limits::MAX_EDGE_COLLECTION_NAME_BYTES`].
        limit: usize,
    },
    /// A query parameter is out of range (depths, start vertices, edge collections).
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong, with the offending value and the limit.
        reason: String,
    },
    /// A property name cannot be set or read through the entity API.
    #[error("invalid property `{name}`: {reason}")]
    InvalidProperty {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A weighted shortest path met an edge whose weight is missing, not a number, negative
    /// or not finite (Dijkstra is only correct for non-negative weights).
    #[error("edge `{edge}` in `{collection}` has weight field `{field}` {reason}; weights must be finite numbers >= 0")]
    InvalidWeight {
        /// The edge collection.
        collection: String,
        /// The edge.
        edge: DocId,
        /// The weight field.
        field: String,
        /// What was found.
        reason: String,
    },
    /// The query ran past its time budget.
    #[error("graph query stopped after {budget_ms} ms, its time budget; narrow it (depth, filters, limit)")]
    TimeBudgetExceeded {
        /// The budget, in milliseconds.
        budget_ms: u64,
    },
    /// The query needed more memory than its limit (visited vertices, frontier, paths).
    #[error("graph query needs more than {limit_bytes} bytes of memory; narrow it (depth, filters, limit, uniqueness)")]
    MemoryLimitExceeded {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// Stored adjacency bytes do not decode: the index is damaged.
    #[error("corrupt adjacency of `{collection}`: {detail}")]
    Corrupt {
        /// The edge collection.
        collection: String,
        /// What was wrong.
        detail: String,
    },
    /// An engine error, including refused edge writes and restricted vertex deletes.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<GraphError> for EngineError {
    fn from(err: GraphError) -> EngineError {
        match err {
            GraphError::Engine(inner) => inner,
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

impl From<cairn_doc::DocError> for GraphError {
    fn from(err: cairn_doc::DocError) -> GraphError {
        GraphError::Engine(EngineError::Document(err))
    }
}

/// Result alias for graph operations.
pub type Result<T, E = GraphError> = std::result::Result<T, E>;
