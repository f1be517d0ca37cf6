//! `$lookup`: an equality join with another collection of the same snapshot.
//!
//! For each input document the local field's values become a filter on the foreign field
//! (`{foreignField: v}`, or `$in` of an array's elements), which the planner answers with the
//! foreign collection's indexes when it has one; otherwise it scans that collection. The matches
//! are attached in `_id` order.

use std::time::Duration;

use cairn_doc::{FieldPath, Value};
use cairn_engine::Transaction;
use cairn_index::path_values;

use super::explain::QueriesExplain;
use super::expr::set_path;
use super::memory::{value_bytes, Memory};
use crate::error::{QueryError, Result};
use crate::filter::{Filter, Op};
use crate::find::for_each_match_planned;
use crate::limits::{MAX_GROUP_BYTES, MAX_IN_LIST};

/// A `$lookup` stage: `{"from": .., "localField": .., "foreignField": .., "as": ..}`.
#[derive(Debug, Clone)]
pub struct Lookup {
    from: String,
    local: FieldPath,
    foreign: FieldPath,
    as_path: FieldPath,
}

impl Lookup {
    /// Joins documents of `from` whose `foreign_field` equals this document's `local_field`
    /// (any element, for arrays) into the array `as_field`.
    pub fn new(
        from: &str,
        local_field: &str,
        foreign_field: &str,
        as_field: &str,
    ) -> Result<Lookup> {
        let path = |field: &str| {
            FieldPath::parse(field).map_err(|err| QueryError::invalid(field, err.to_string()))
        };
        if from.is_empty() {
            return Err(QueryError::invalid("from", "names no collection"));
        }
        Ok(Lookup {
            from: from.to_owned(),
            local: path(local_field)?,
            foreign: path(foreign_field)?,
            as_path: path(as_field)?,
        })
    }

    /// The foreign collection.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// Parses the stage's specification; `at` names its place for errors.
    pub fn parse(json: &Value, at: &str) -> Result<Lookup> {
        let object = json.as_object().ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects {\"from\": .., \"localField\": .., \"foreignField\": .., \"as\": ..}",
            )
        })?;
        if let Some(unknown) = object
            .keys()
            .find(|key| !["from", "localField", "foreignField", "as"].contains(key))
        {
            return Err(QueryError::invalid(
                format!("{at}.{unknown}"),
                "unsupported option; only the equality form {from, localField, foreignField, as} is available",
            ));
        }
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .ok_or_else(|| {
                    QueryError::invalid(
                        format!("{at}.{key}"),
                        "is required and must be a non-empty string",
                    )
                })
        };
        let path = |key: &str| {
            let field = text(key)?;
            FieldPath::parse(field)
                .map_err(|err| QueryError::invalid(format!("{at}.{key}"), err.to_string()))
        };
        Ok(Lookup {
            from: text("from")?.to_owned(),
            local: path("localField")?,
            foreign: path("foreignField")?,
            as_path: path("as")?,
        })
    }

    /// The filter on the foreign collection for `doc`, or `None` when nothing can match (the
    /// local field is an empty array). A missing local field matches null or missing.
    pub(super) fn filter_for(&self, doc: &Value) -> Result<Option<Filter>> {
        let mut reached = Vec::new();
        path_values::collect(&self.local, doc, &mut reached);
        if reached.is_empty() {
            return Ok(Some(Filter::Field(
                self.foreign.clone(),
                vec![Op::Eq(Value::Null)],
            )));
        }
        let mut values = Vec::with_capacity(reached.len());
        for value in reached {
            match value {
                Value::Array(items) => values.extend(items.iter().cloned()),
                other => values.push(other.clone()),
            }
        }
        if values.len() > MAX_IN_LIST {
            return Err(QueryError::TooLarge {
                what: "$lookup local values of one document",
                limit: MAX_IN_LIST as u64,
                hint: "$unwind the local array first",
            });
        }
        let op = match values.len() {
            0 => return Ok(None),
            1 => Op::Eq(values.swap_remove(0)),
            _ => Op::In(values),
        };
        Ok(Some(Filter::Field(self.foreign.clone(), vec![op])))
    }

    /// Attaches the matching foreign documents of `doc`, read through `txn` within `budget`.
    pub(super) fn join(
        &self,
        txn: &mut Transaction,
        mut doc: Value,
        budget: Duration,
        explain: &mut QueriesExplain,
    ) -> Result<Value> {
        let mut joined: Vec<(Vec<u8>, Value)> = Vec::new();
        if let Some(filter) = self.filter_for(&doc)? {
            let mut memory = Memory::new(
                "$lookup joined documents of one document",
                MAX_GROUP_BYTES,
                "join on a more selective field",
            );
            let (stats, plan) =
                for_each_match_planned(txn, &self.from, &filter, budget, &mut |key, foreign| {
                    memory.grow(key.len() + value_bytes(&foreign))?;
                    joined.push((key.to_vec(), foreign));
                    Ok(true)
                })?;
            explain.record(plan, &stats);
        }
        joined.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(object) = doc.as_object_mut() {
            let matches = joined.into_iter().map(|(_, foreign)| foreign).collect();
            set_path(object, self.as_path.segments(), Value::Array(matches));
        }
        Ok(doc)
    }
}
