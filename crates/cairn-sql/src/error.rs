//! The SQL layer's one error type, and the SQLSTATE code of each failure.
//!
//! SQLSTATEs are what PostgreSQL drivers act on (retry on `40001`, report a constraint on
//! `23xxx`), so every variant, and every Cairn error inside one, maps to the code PostgreSQL
//! itself would send for the same situation.

use cairn::EngineError;
use datafusion::error::DataFusionError;

/// Result of the SQL layer.
pub type Result<T> = std::result::Result<T, SqlError>;

/// What went wrong with a statement.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement does not parse, names something unknown, or mixes types: DataFusion's
    /// own error (which may wrap one of Cairn's, raised inside a scan or a write).
    #[error("{0}")]
    Plan(#[from] DataFusionError),
    /// The storage engine refused (conflict, constraint, missing collection...).
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// Cairn's planner or executor refused (time budget, a bad regular expression...).
    #[error("{0}")]
    Query(#[from] cairn::query::QueryError),
    /// An index definition is invalid or its build failed.
    #[error("{0}")]
    Index(#[from] cairn::index::IndexError),
    /// A vector index definition is invalid or its build failed.
    #[error("{0}")]
    Vector(#[from] cairn::vector::VectorError),
    /// A spatial index definition is invalid or its build failed.
    #[error("{0}")]
    Geo(#[from] cairn::geo::GeoError),
    /// A text index definition is invalid or its build failed.
    #[error("{0}")]
    Text(#[from] cairn::text::TextError),
    /// A schema given by `CREATE TABLE` is invalid, or existing documents break it.
    #[error("{0}")]
    Schema(#[from] cairn::schema::SchemaError),
    /// Inferring a schemaless collection's columns failed.
    #[error("{0}")]
    Infer(#[from] cairn::infer::InferError),
    /// A value cannot be stored in a column (a text that is not JSON in a `json` column...).
    #[error("invalid value for column `{column}`: {reason}")]
    InvalidValue {
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// A function was called with an argument it cannot take (a text that is not a vector or
    /// not WKT, vectors of different dimensions, a bad `k`).
    #[error("{function}: {reason}")]
    InvalidArgument {
        /// The function.
        function: String,
        /// What is wrong.
        reason: String,
    },
    /// The statement is valid SQL that Cairn does not implement (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A savepoint command outside a transaction block.
    #[error("{0} can only be used in transaction blocks")]
    NoTransactionBlock(&'static str),
    /// `RELEASE` or `ROLLBACK TO` a savepoint the block does not have.
    #[error("savepoint \"{0}\" does not exist")]
    UnknownSavepoint(String),
    /// A statement other than ROLLBACK in a transaction block a failed statement aborted.
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    TransactionAborted,
    /// DDL (`CREATE TABLE`, `CREATE INDEX`, `DROP TABLE`) inside `BEGIN … COMMIT`: Cairn's
    /// collection and index DDL commits on its own, so it cannot join the open transaction.
    #[error("{0} cannot run inside a transaction block")]
    DdlInTransaction(&'static str),
    /// The session's user may not read (or write) this collection.
    #[error("permission denied for table {collection}")]
    PermissionDenied {
        /// The collection.
        collection: String,
    },
    /// The statement ran longer than the session's `statement_timeout`.
    #[error("canceling statement due to statement timeout")]
    Timeout,
    /// An external source is unknown, unreachable or sent something unreadable (message
    /// redacted: never a password).
    #[error("{0}")]
    Source(#[from] crate::source::SourceError),
    /// `COPY … FROM STDIN` data that does not parse (line counted from 1, header included).
    #[error("COPY data, line {line}: {reason}")]
    CopyData {
        /// The line of the data.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The statement is larger than [`crate::limits::MAX_STATEMENT_BYTES`].
    #[error("statement is {bytes} bytes; the limit is {limit}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

impl SqlError {
    /// The PostgreSQL SQLSTATE code for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            SqlError::Plan(err) => plan_sqlstate(err),
            SqlError::Engine(err) => engine_sqlstate(err),
            SqlError::Query(err) => query_sqlstate(err),
            SqlError::Index(cairn::index::IndexError::Engine(err)) => engine_sqlstate(err),
            SqlError::Index(cairn::index::IndexError::InvalidDefinition { .. }) => "42P17",
            SqlError::Index(cairn::index::IndexError::UnknownIndex { .. }) => "42704",
            SqlError::Index(_) => "XX000",
            SqlError::Vector(cairn::vector::VectorError::Engine(err))
            | SqlError::Geo(cairn::geo::GeoError::Engine(err))
            | SqlError::Text(cairn::text::TextError::Engine(err)) => engine_sqlstate(err),
            SqlError::Vector(cairn::vector::VectorError::InvalidDefinition { .. })
            | SqlError::Geo(cairn::geo::GeoError::InvalidDefinition { .. })
            | SqlError::Text(cairn::text::TextError::InvalidDefinition { .. }) => "42P17",
            SqlError::Vector(_) | SqlError::Geo(_) | SqlError::Text(_) => "XX000",
            SqlError::Schema(cairn::schema::SchemaError::Engine(err)) => engine_sqlstate(err),
            SqlError::Schema(cairn::schema::SchemaError::ExistingDocumentsInvalid { .. }) => {
                "23514"
            }
            SqlError::Schema(_) => "42P16",
            SqlError::Infer(cairn::infer::InferError::Engine(err)) => engine_sqlstate(err),
            SqlError::Infer(_) => "XX000",
            SqlError::InvalidValue { .. } => "22P02",
            SqlError::InvalidArgument { .. } => "22023",
            SqlError::Unsupported(_) => "0A000",
            SqlError::TransactionAborted => "25P02",
            SqlError::NoTransactionBlock(_) => "25P01",
            SqlError::UnknownSavepoint(_) => "3B001",
            SqlError::DdlInTransaction(_) => "25001",
            SqlError::Timeout => "57014",
            SqlError::PermissionDenied { .. } => "42501",
            SqlError::TooLarge { .. } => "54000",
            SqlError::CopyData { .. } => "22P04",
            SqlError::Source(err) => err.sqlstate(),
        }
    }

    /// Wraps this error for DataFusion (inside a scan or a sink), so that it comes back out
    /// of the statement with its SQLSTATE intact ([`SqlError::from_datafusion`]).
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }

    /// The error a statement failed with: one of ours if DataFusion carried one (see
    /// [`SqlError::into_datafusion`]), else DataFusion's own.
    pub fn from_datafusion(err: DataFusionError) -> SqlError {
        if let DataFusionError::External(inner) = err.find_root() {
            if inner.downcast_ref::<SqlError>().is_some() {
                if let DataFusionError::External(boxed) = unwrap_root(err) {
                    if let Ok(ours) = boxed.downcast::<SqlError>() {
                        return *ours;
                    }
                }
                // Unreachable in practice: `find_root` and `unwrap_root` walk the same chain.
                return SqlError::Unsupported("lost error".into());
            }
        }
        SqlError::Plan(err)
    }
}

/// The innermost error of DataFusion's context/shared wrappers, by value.
fn unwrap_root(err: DataFusionError) -> DataFusionError {
    match err {
        DataFusionError::Context(_, inner) => unwrap_root(*inner),
        DataFusionError::Shared(shared) => match std::sync::Arc::try_unwrap(shared) {
            Ok(inner) => unwrap_root(inner),
            Err(shared) => DataFusionError::Shared(shared),
        },
        DataFusionError::Diagnostic(_, inner) => unwrap_root(*inner),
        other => other,
    }
}

fn plan_sqlstate(err: &DataFusionError) -> &'static str {
    match err.find_root() {
        DataFusionError::SQL(..) => "42601",
        DataFusionError::SchemaError(..) => "42703",
        DataFusionError::Plan(message) if message.contains("not found") => "42P01",
        DataFusionError::Plan(_) => "42804",
        DataFusionError::NotImplemented(_) => "0A000",
        DataFusionError::ArrowError(err, _)
            if matches!(**err, datafusion::arrow::error::ArrowError::DivideByZero) =>
        {
            "22012"
        }
        DataFusionError::ArrowError(..) => "22000",
        DataFusionError::ResourcesExhausted(_) => "53200",
        DataFusionError::Execution(message) if message.contains("Division by zero") => "22012",
        DataFusionError::Execution(_) => "22000",
        _ => "XX000",
    }
}

fn query_sqlstate(err: &cairn::query::QueryError) -> &'static str {
    use cairn::query::QueryError as Q;
    match err {
        Q::Invalid { .. } => "42601",
        Q::TimedOut { .. } => "57014",
        Q::Cancelled => "57014",
        Q::TooLarge { .. } => "54000",
        Q::Engine(err) => engine_sqlstate(err),
        _ => "XX000",
    }
}

/// The SQLSTATE for an engine error: what PostgreSQL sends for the same situation.
pub fn engine_sqlstate(err: &EngineError) -> &'static str {
    match err {
        EngineError::UnknownCollection { .. } => "42P01",
        EngineError::CollectionExists { .. } => "42P07",
        EngineError::InvalidCollectionName { .. } => "42602",
        EngineError::DuplicateId { .. } | EngineError::UniqueViolation { .. } => "23505",
        EngineError::SchemaViolation { .. } => "23514",
        EngineError::RuleViolation { .. } | EngineError::InvariantViolation { .. } => "23514",
        EngineError::ReferenceViolation { .. } => "23503",
        EngineError::Document(_) => "22P02",
        EngineError::LimitExceeded { .. } => "54000",
        EngineError::Conflict { .. } | EngineError::TransactionTooOld { .. } => "40001",
        EngineError::ReadOnlyTransaction => "25006",
        EngineError::Closed => "57P01",
        _ => "XX000",
    }
}
