//! Errors of the schema layer.

use cairn_engine::EngineError;

/// What can go wrong defining, changing or migrating a schema. (A write that breaks a schema
/// fails with the engine's typed `SchemaViolation`, `ReferenceViolation` or `RuleViolation`,
/// carried in [`SchemaError::Engine`].)
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The schema document is malformed; `at` names where (a field path or `rules.NAME`).
    #[error("invalid schema at `{at}`: {reason}")]
    InvalidSchema {
        /// Where in the schema.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// A rule or transformation expression does not parse or breaks a limit.
    #[error("invalid expression `{source_text}` at byte {offset}: {reason}")]
    InvalidExpression {
        /// The expression.
        source_text: String,
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// An expression could not be evaluated on a document (a type mismatch, overflow, division
    /// by zero, a string too long). In a rule this fails the write as a rule violation.
    #[error("cannot evaluate `{expression}`: {reason}")]
    Evaluation {
        /// The expression.
        expression: String,
        /// What went wrong.
        reason: String,
    },
    /// The schema file could not be parsed as JSON or YAML.
    #[error("cannot parse schema file: {0}")]
    Parse(String),
    /// The change is incompatible with the stored documents; run it as a migration.
    #[error("this schema change needs a migration (`cairn schema migrate`): {}", .reasons.join("; "))]
    MigrationRequired {
        /// Each incompatibility.
        reasons: Vec<String>,
    },
    /// Existing documents would not satisfy the new schema.
    #[error(
        "{failed} of {total} existing documents would not satisfy the schema (first: {first})"
    )]
    ExistingDocumentsInvalid {
        /// How many fail.
        failed: u64,
        /// How many were checked.
        total: u64,
        /// The first failure.
        first: String,
    },
    /// A migration is running (or was interrupted) on the collection.
    #[error("a migration of `{collection}` to version {target_version} is in progress; resume it (`cairn schema migrate {collection} --resume`) before changing the schema again")]
    MigrationInProgress {
        /// The collection.
        collection: String,
        /// The version being migrated to.
        target_version: u64,
    },
    /// Nothing to resume.
    #[error("no migration of `{collection}` is in progress")]
    NoMigration {
        /// The collection.
        collection: String,
    },
    /// An engine error (including schema, reference and rule violations of writes).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An index the schema needs could not be created.
    #[error(transparent)]
    Index(#[from] cairn_index::IndexError),
}

impl From<SchemaError> for EngineError {
    fn from(err: SchemaError) -> EngineError {
        match err {
            SchemaError::Engine(inner) => inner,
            SchemaError::Index(inner) => inner.into(),
            other => EngineError::ExtensionFailed {
                message: other.to_string(),
            },
        }
    }
}

impl From<cairn_doc::DocError> for SchemaError {
    fn from(err: cairn_doc::DocError) -> SchemaError {
        SchemaError::Engine(EngineError::Document(err))
    }
}

/// Result alias for schema operations.
pub type Result<T, E = SchemaError> = std::result::Result<T, E>;
