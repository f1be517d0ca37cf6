//! Errors of the time-series layer.

use cairn_engine::EngineError;

/// What can go wrong creating, writing or reading a time-series collection.
#[derive(Debug, thiserror::Error)]
pub enum TsError {
    /// The collection exists but is not a time-series collection.
    #[error("collection `{collection}` is not a time-series collection")]
    NotTimeSeries {
        /// The collection.
        collection: String,
    },
    /// The options given at creation (or stored) are not valid.
    #[error("invalid time-series options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
    /// A document or point lacks a usable time.
    #[error("point has no usable time field `{field}`: {reason}")]
    BadTime {
        /// The time field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A document lacks the meta field (the series key).
    #[error("point has no meta field `{field}`")]
    MissingMeta {
        /// The meta field.
        field: String,
    },
    /// A value of a type points cannot carry (objects, bytes, geometry...).
    #[error(
        "field `{field}` holds a {type_name}; points carry numbers, vectors, strings and booleans"
    )]
    UnsupportedValue {
        /// The field.
        field: String,
        /// The value's type.
        type_name: &'static str,
    },
    /// A named limit was exceeded.
    #[error("{what}: {actual} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The count found.
        actual: u64,
        /// The limit (see `limits.rs`).
        limit: u64,
    },
    /// An aggregate that does not apply to a column's type (e.g. `avg` of strings).
    #[error("aggregate `{aggregate}` does not apply to {kind} values of field `{field}`")]
    UnsupportedAggregate {
        /// The aggregate.
        aggregate: &'static str,
        /// The column type.
        kind: &'static str,
        /// The field.
        field: String,
    },
    /// An integer sum left the `i64` range.
    #[error("sum of field `{field}` overflows a 64-bit integer")]
    SumOverflow {
        /// The field.
        field: String,
    },
    /// Vectors of one field with different dimensions in one aggregate or interpolation.
    #[error("field `{field}` holds vectors of dimension {left} and {right}")]
    DimensionMismatch {
        /// The field.
        field: String,
        /// One dimension.
        left: usize,
        /// The other.
        right: usize,
    },
    /// A query argument is not valid (empty range, non-positive `every`).
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong.
        reason: String,
    },
    /// Stored chunk data failed its checksum or decode: the collection is damaged.
    #[error("corrupt time-series data: {detail}")]
    Corrupt {
        /// What failed.
        detail: String,
    },
    /// An engine error (conflict, storage failure...).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl TsError {
    pub(crate) fn corrupt(detail: impl Into<String>) -> TsError {
        TsError::Corrupt {
            detail: detail.into(),
        }
    }

    /// Whether retrying the whole transaction may succeed (a write conflict).
    pub fn is_retryable(&self) -> bool {
        matches!(self, TsError::Engine(e) if e.is_retryable())
    }
}

impl From<TsError> for EngineError {
    fn from(err: TsError) -> EngineError {
        match err {
            TsError::Engine(inner) => inner,
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

/// Result alias for time-series operations.
pub type Result<T, E = TsError> = std::result::Result<T, E>;
