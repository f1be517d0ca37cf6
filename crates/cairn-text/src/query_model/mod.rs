//! The full-text model's part of the query language: the document-level `$text` operator
//! (`op.rs`) and the text index as an access method that ranks by it (`access.rs`).
//!
//! [`register`] hands both to the query layer; the `cairn` facade calls it before opening a
//! database, so an embedding application or the server never has to.

mod access;
mod op;

use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::Transaction;
use cairn_query::access::{AccessMethod, FieldOperator, QueryModel};
use cairn_query::{Filter, Op, QueryError, Result, DOCUMENT_LEVEL_PATH};

pub use op::{TextOp, DEFAULT_SCORE_FIELD, SNIPPETS_FIELD};

use crate::error::TextError;
use crate::maintain::{text_index, TEXT_KIND};

/// The full-text model as the query layer sees it.
pub struct TextModel;

impl QueryModel for TextModel {
    fn name(&self) -> &'static str {
        "text"
    }

    fn parse_operator(
        &self,
        name: &str,
        operand: &Value,
        at: &str,
    ) -> Option<Result<Arc<dyn FieldOperator>>> {
        let parsed = op::parse(name, operand, at)?;
        Some(parsed.map(|op| Arc::new(op) as Arc<dyn FieldOperator>))
    }

    /// The one ready text index a `$text` names (by `index`, or by `language`, or the only
    /// one). `$text` has no meaning without an index (its score needs the index's
    /// statistics), so a query naming none that exists is refused, as is a `$text` written
    /// on a field instead of at the top level.
    fn access_methods(
        &self,
        txn: &mut Transaction,
        collection: &str,
        filter: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>> {
        let mut found = Vec::new();
        text_ops(filter, &mut found);
        let Some((path, op)) = found.into_iter().next() else {
            return Ok(Vec::new());
        };
        if path.to_string() != DOCUMENT_LEVEL_PATH {
            return Err(QueryError::invalid(
                path.to_string(),
                "`$text` is a top-level operator: {\"$text\": {\"query\": ...}}",
            ));
        }
        let meta = txn.collection_meta(collection)?;
        let mut candidates = Vec::new();
        for ext in meta.extensions.iter().filter(|e| e.kind == TEXT_KIND) {
            if op.index.as_ref().is_some_and(|name| *name != ext.name) {
                continue;
            }
            let (spec, ready) = text_index(txn, collection, &ext.name)?;
            if ready && op.language.is_none_or(|language| language == spec.language) {
                candidates.push(spec);
            }
        }
        match candidates.len() {
            1 => Ok(vec![Arc::new(access::TextAccess {
                spec: candidates.remove(0),
            }) as Arc<dyn AccessMethod>]),
            0 => Err(QueryError::invalid(
                "$text",
                format!(
                    "`{collection}` has no ready text index{}",
                    match (&op.index, op.language) {
                        (Some(name), _) => format!(" named `{name}`"),
                        (None, Some(language)) => format!(" of language {}", language.name()),
                        (None, None) => String::new(),
                    }
                ),
            )),
            n => Err(QueryError::invalid(
                "$text",
                format!("`{collection}` has {n} text indexes: name one with `index`"),
            )),
        }
    }
}

/// The `$text` conditions of a filter, with the path each is held on.
fn text_ops(filter: &Filter, out: &mut Vec<(cairn_doc::FieldPath, TextOp)>) {
    match filter {
        Filter::All => {}
        Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) => {
            parts.iter().for_each(|part| text_ops(part, out));
        }
        Filter::Field(path, ops) => {
            for op in ops {
                if let Op::Registered(op) = op {
                    if let Some(text) = op.as_any().downcast_ref::<TextOp>() {
                        out.push((path.clone(), text.clone()));
                    }
                }
            }
        }
    }
}

/// Registers `$text` and the text index with the query layer (idempotent).
pub fn register_query_model() {
    cairn_query::access::register(Arc::new(TextModel));
}

impl From<TextError> for QueryError {
    fn from(err: TextError) -> QueryError {
        match err {
            TextError::Engine(engine) => QueryError::Engine(engine),
            other => QueryError::Model(Box::new(other)),
        }
    }
}
