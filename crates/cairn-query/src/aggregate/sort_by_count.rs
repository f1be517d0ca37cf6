//! `$sortByCount`: groups by an expression and counts, most frequent first
//! (`{"$sortByCount": "$city"}` is `{"$group": {"_id": "$city", "count": {"$sum": 1}}}`
//! followed by `{"$sort": {"count": -1}}`).
//!
//! Held in `$group`'s table (same memory limit, [`crate::limits::MAX_GROUP_BYTES`]); groups
//! with equal counts come out in key order (the sort is stable over `$group`'s key order), so
//! the output is deterministic where MongoDB leaves ties unspecified.

use std::cmp::Reverse;

use cairn_doc::Value;

use super::expr::Expr;
use super::group::{Accumulator, Group, GroupTable};
use crate::error::{QueryError, Result};

/// The output field holding each group's count.
const COUNT_FIELD: &str = "count";

/// A `$sortByCount` stage.
#[derive(Debug, Clone)]
pub struct SortByCount {
    group: Group,
}

impl SortByCount {
    /// Counts the documents per value of `by`.
    pub fn new(by: Expr) -> Result<SortByCount> {
        Ok(SortByCount {
            group: Group::by(by).with(COUNT_FIELD, Accumulator::count())?,
        })
    }

    /// Parses the argument: a field reference (`"$city"`) or an object expression (MongoDB
    /// refuses a constant, which would put every document in one group).
    pub fn parse(json: &Value, at: &str) -> Result<SortByCount> {
        let reference = json.as_str().is_some_and(|text| text.starts_with('$'));
        if !reference && json.as_object().is_none() {
            return Err(QueryError::invalid(
                at,
                "expects a field reference such as \"$city\" or an object expression",
            ));
        }
        SortByCount::new(Expr::parse(json, at)?)
    }

    /// The group the stage folds documents into.
    pub(super) fn group(&self) -> &Group {
        &self.group
    }

    /// The counted groups, largest count first.
    pub(super) fn release(&self, table: GroupTable) -> Vec<Value> {
        let mut docs: Vec<Value> = table.into_docs(&self.group).collect();
        docs.sort_by_key(|doc| {
            Reverse(
                doc.as_object()
                    .and_then(|object| object.get(COUNT_FIELD))
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            )
        });
        docs
    }
}
