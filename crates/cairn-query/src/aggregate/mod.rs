//! The aggregation pipeline (placeholder until the pipeline lands; see ARCHITECTURE.md).

use cairn_doc::Value;
use cairn_engine::Database;

use crate::error::{QueryError, Result};

/// A parsed pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline;

/// Runs a pipeline.
pub fn aggregate(_db: &Database, _collection: &str, _pipeline: &Value) -> Result<Vec<Value>> {
    Err(QueryError::invalid("pipeline", "aggregation is not available yet"))
}
