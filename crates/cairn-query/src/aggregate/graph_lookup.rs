//! `$graphLookup`: a recursive search of another collection of the same snapshot, with
//! MongoDB's semantics.
//!
//! For each input document, `startWith` (an expression; an array gives several values) seeds
//! the search: depth 0 finds the documents of `from` whose `connectToField` equals one of the
//! values (any element, for arrays); their `connectFromField` values (arrays flattened) are the
//! next depth's values, up to `maxDepth` (unbounded when absent). Each document is found once,
//! at its smallest depth, and is added to the array `as` (in the order found: by depth, then
//! by key), with its depth in `depthField` when given. `restrictSearchWithMatch` is a filter
//! every found document must also pass (documents failing it are neither returned nor
//! followed). Values already searched are not searched again, so cycles end. `null` and
//! missing values seed nothing.
//!
//! Each depth is one query `{connectToField: {$in: values}} AND restrict` through the planner
//! ([`crate::find::for_each_match`]): on an edge collection with `_from`/`_to` as
//! `connectToField`, the adjacency index answers it (O(log n + degree) per vertex); otherwise a
//! secondary index on the field, else a scan per depth. The whole search shares the query's
//! time budget and [`MAX_GRAPH_LOOKUP_BYTES`] of memory per input document.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cairn_doc::{FieldPath, Value};
use cairn_engine::Transaction;
use cairn_index::path_values;

use super::explain::QueriesExplain;
use super::expr::{set_path, Expr};
use super::memory::{value_bytes, Memory};
use crate::error::{QueryError, Result};
use crate::filter::{Filter, Op};
use crate::find::for_each_match_planned;
use crate::limits::{MAX_GRAPH_LOOKUP_BYTES, MAX_IN_LIST};

/// A `$graphLookup` stage.
#[derive(Debug, Clone)]
pub struct GraphLookup {
    from: String,
    start_with: Expr,
    connect_from: FieldPath,
    connect_to: FieldPath,
    as_path: FieldPath,
    max_depth: Option<u64>,
    depth_field: Option<FieldPath>,
    restrict: Option<Filter>,
}

const OPTIONS: [&str; 8] = [
    "from",
    "startWith",
    "connectFromField",
    "connectToField",
    "as",
    "maxDepth",
    "depthField",
    "restrictSearchWithMatch",
];

impl GraphLookup {
    /// The collection searched.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// Parses the stage's specification; `at` names its place for errors.
    pub fn parse(json: &Value, at: &str) -> Result<GraphLookup> {
        let object = json.as_object().ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects {\"from\", \"startWith\", \"connectFromField\", \"connectToField\", \"as\"} \
                 and optionally maxDepth, depthField, restrictSearchWithMatch",
            )
        })?;
        if let Some(unknown) = object.keys().find(|key| !OPTIONS.contains(key)) {
            return Err(QueryError::invalid(
                format!("{at}.{unknown}"),
                format!("unknown option; use {}", OPTIONS.join(", ")),
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
        let path = |key: &str, field: &str| {
            FieldPath::parse(field)
                .map_err(|err| QueryError::invalid(format!("{at}.{key}"), err.to_string()))
        };
        let start = object
            .get("startWith")
            .ok_or_else(|| QueryError::invalid(format!("{at}.startWith"), "is required"))?;
        let max_depth = match object.get("maxDepth") {
            None => None,
            Some(Value::Int(n)) if *n >= 0 => Some(*n as u64),
            Some(_) => {
                return Err(QueryError::invalid(
                    format!("{at}.maxDepth"),
                    "must be a non-negative integer",
                ))
            }
        };
        let depth_field = match object.get("depthField") {
            None => None,
            Some(_) => Some(path("depthField", text("depthField")?)?),
        };
        let restrict = match object.get("restrictSearchWithMatch") {
            None => None,
            Some(spec) => Some(Filter::parse(spec).map_err(|err| {
                QueryError::invalid(format!("{at}.restrictSearchWithMatch"), err.to_string())
            })?),
        };
        Ok(GraphLookup {
            from: text("from")?.to_owned(),
            start_with: Expr::parse(start, &format!("{at}.startWith"))?,
            connect_from: path("connectFromField", text("connectFromField")?)?,
            connect_to: path("connectToField", text("connectToField")?)?,
            as_path: path("as", text("as")?)?,
            max_depth,
            depth_field,
            restrict,
        })
    }

    /// Runs the search for `doc` through `txn` within `budget` and attaches what it found.
    pub(super) fn join(
        &self,
        txn: &mut Transaction,
        mut doc: Value,
        budget: Duration,
        explain: &mut QueriesExplain,
    ) -> Result<Value> {
        let started = Instant::now();
        let mut memory = Memory::new(
            "$graphLookup documents and values of one search",
            MAX_GRAPH_LOOKUP_BYTES,
            "set maxDepth, or narrow the search with restrictSearchWithMatch",
        );
        let mut seen_values: HashSet<String> = HashSet::new();
        let mut frontier = Vec::new();
        if let Some(start) = self.start_with.eval(&doc) {
            push_values(start, &mut frontier, &mut seen_values, &mut memory)?;
        }
        let mut found_keys: HashSet<Vec<u8>> = HashSet::new();
        let mut found: Vec<Value> = Vec::new();
        let mut depth = 0u64;
        while !frontier.is_empty() && self.max_depth.is_none_or(|max| depth <= max) {
            let mut next = Vec::new();
            for chunk in frontier.chunks(MAX_IN_LIST) {
                let left = budget
                    .checked_sub(started.elapsed())
                    .filter(|d| !d.is_zero());
                let left = left.ok_or(QueryError::TimedOut {
                    budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
                    examined: found.len() as u64,
                })?;
                let mut level: Vec<(Vec<u8>, Value)> = Vec::new();
                let (stats, plan) = for_each_match_planned(
                    txn,
                    &self.from,
                    &self.filter(chunk),
                    left,
                    &mut |key, hit| {
                        if found_keys.insert(key.to_vec()) {
                            memory.grow(key.len() + value_bytes(&hit))?;
                            level.push((key.to_vec(), hit));
                        }
                        Ok(true)
                    },
                )?;
                explain.record(plan, &stats);
                level.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                for (_, mut hit) in level {
                    let mut reached = Vec::new();
                    path_values::collect(&self.connect_from, &hit, &mut reached);
                    for value in reached {
                        push_values(value.clone(), &mut next, &mut seen_values, &mut memory)?;
                    }
                    if let (Some(field), Some(object)) = (&self.depth_field, hit.as_object_mut()) {
                        let depth = Value::Int(i64::try_from(depth).unwrap_or(i64::MAX));
                        set_path(object, field.segments(), depth);
                    }
                    found.push(hit);
                }
            }
            frontier = next;
            depth += 1;
        }
        if let Some(object) = doc.as_object_mut() {
            set_path(object, self.as_path.segments(), Value::Array(found));
        }
        Ok(doc)
    }

    /// The query of one depth: `connectToField` among `values`, and the restriction.
    fn filter(&self, values: &[Value]) -> Filter {
        let op = match values {
            [one] => Op::Eq(one.clone()),
            many => Op::In(many.to_vec()),
        };
        let on_field = Filter::Field(self.connect_to.clone(), vec![op]);
        match &self.restrict {
            Some(restrict) => Filter::And(vec![on_field, restrict.clone()]),
            None => on_field,
        }
    }
}

/// Adds `value` (each element, for an array) to `out` unless null or searched before.
fn push_values(
    value: Value,
    out: &mut Vec<Value>,
    seen: &mut HashSet<String>,
    memory: &mut Memory,
) -> Result<()> {
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    for item in items {
        if matches!(item, Value::Null) {
            continue;
        }
        // Keyed by text: equal numbers of different types (1, 1.0) are searched twice, which
        // finds nothing new (found documents are kept once by key).
        let text = item.to_json_string();
        if seen.contains(&text) {
            continue;
        }
        memory.grow(value_bytes(&item) + text.len())?;
        seen.insert(text);
        out.push(item);
    }
    Ok(())
}
