//! `$replaceRoot` (and its alias `$replaceWith`): each document replaced by a computed one,
//! usually an embedded object (`{"$replaceRoot": {"newRoot": "$address"}}`).
//!
//! As in MongoDB, the new root must evaluate to an object: a missing field or a scalar fails
//! the pipeline naming the document's `_id` (filter such documents out first with `$match`),
//! instead of silently dropping or inventing data.

use cairn_doc::Value;

use super::expr::Expr;
use crate::error::{QueryError, Result};

/// A `$replaceRoot` stage.
#[derive(Debug, Clone)]
pub struct ReplaceRoot {
    new_root: Expr,
    /// Where the stage sits (`pipeline[2].$replaceRoot.newRoot`), for run-time errors.
    at: String,
}

impl ReplaceRoot {
    /// Replaces each document with the value of `new_root`.
    pub fn new(new_root: Expr) -> ReplaceRoot {
        ReplaceRoot {
            new_root,
            at: "$replaceRoot.newRoot".to_owned(),
        }
    }

    /// Parses `{"newRoot": <expression>}`; `at` names its place.
    pub fn parse(json: &Value, at: &str) -> Result<ReplaceRoot> {
        let object = json
            .as_object()
            .filter(|object| object.len() == 1)
            .ok_or_else(|| {
                QueryError::invalid(at, "expects {\"newRoot\": <expression>}, e.g. \"$address\"")
            })?;
        let here = format!("{at}.newRoot");
        let new_root = object
            .get("newRoot")
            .ok_or_else(|| QueryError::invalid(&here, "is required"))?;
        ReplaceRoot::parse_with(new_root, &here)
    }

    /// Parses `$replaceWith`'s argument: the expression itself.
    pub fn parse_with(json: &Value, at: &str) -> Result<ReplaceRoot> {
        Ok(ReplaceRoot {
            new_root: Expr::parse(json, at)?,
            at: at.to_owned(),
        })
    }

    /// The new document for `doc`.
    pub(super) fn apply(&self, doc: Value) -> Result<Value> {
        match self.new_root.eval(&doc) {
            Some(root @ Value::Object(_)) => Ok(root),
            other => {
                let found = other.as_ref().map_or("missing", Value::type_name);
                let id = doc
                    .as_object()
                    .and_then(|object| object.get("_id"))
                    .map_or_else(|| "?".to_owned(), Value::to_json_string);
                Err(QueryError::invalid(
                    &self.at,
                    format!(
                        "must evaluate to an object, but is {found} in the document with _id {id}; \
                         $match such documents out first"
                    ),
                ))
            }
        }
    }
}
