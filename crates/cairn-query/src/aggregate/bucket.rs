//! `$bucket`: documents put into ranges of a value (`groupBy`) between `boundaries`, each
//! range folded by accumulators, as in MongoDB:
//!
//! ```text
//! {"$bucket": {"groupBy": "$age", "boundaries": [0, 18, 65],
//!              "default": "other", "output": {"n": {"$count": {}}}}}
//! ```
//!
//! A document whose value `v` has `boundaries[i] <= v < boundaries[i+1]` lands in the bucket
//! whose `_id` is `boundaries[i]`; values outside every range (a missing field counts as null,
//! another type is outside) land in the `default` bucket, and without a `default` they fail
//! the pipeline. Buckets come out in boundary order, empty ones left out, the default bucket
//! last. Without `output`, each bucket counts its documents in `count`; with it, only the
//! fields it names. Memory: `$group`'s table and limit ([`crate::limits::MAX_GROUP_BYTES`]);
//! boundaries are bounded by [`crate::limits::MAX_BUCKET_BOUNDARIES`].

use std::cmp::Ordering;

use cairn_doc::Value;
use cairn_index::keys;

use super::expr::Expr;
use super::group::{Accumulator, Group, GroupTable};
use crate::error::{QueryError, Result};
use crate::limits::MAX_BUCKET_BOUNDARIES;

/// A `$bucket` stage.
#[derive(Debug, Clone)]
pub struct Bucket {
    group_by: Expr,
    /// Strictly ascending in the total value order; at least two.
    boundaries: Vec<Value>,
    default: Option<Value>,
    /// The accumulators (its key expression is unused: the key is the boundary).
    output: Group,
    /// Where the stage sits, for run-time errors.
    at: String,
}

/// The running state: the ranges' groups and the default bucket's.
#[derive(Debug)]
pub(super) struct BucketTables {
    ranges: GroupTable,
    default: GroupTable,
}

impl Bucket {
    /// Parses `{"groupBy": .., "boundaries": [..], "default": .., "output": {..}}`.
    pub fn parse(json: &Value, at: &str) -> Result<Bucket> {
        let object = json.as_object().ok_or_else(|| {
            QueryError::invalid(
                at,
                "expects {\"groupBy\": \"$field\", \"boundaries\": [..], \"default\": .., \"output\": {..}}",
            )
        })?;
        for (key, _) in object.iter() {
            if !matches!(key, "groupBy" | "boundaries" | "default" | "output") {
                return Err(QueryError::invalid(
                    format!("{at}.{key}"),
                    "unknown option; $bucket takes groupBy, boundaries, default, output",
                ));
            }
        }
        let group_at = format!("{at}.groupBy");
        let group_by = object
            .get("groupBy")
            .ok_or_else(|| QueryError::invalid(&group_at, "is required, e.g. \"$price\""))?;
        let reference = group_by.as_str().is_some_and(|text| text.starts_with('$'));
        if !reference && group_by.as_object().is_none() {
            return Err(QueryError::invalid(
                &group_at,
                "expects a field reference such as \"$price\" or an object expression",
            ));
        }
        let boundaries_at = format!("{at}.boundaries");
        let boundaries = object.get("boundaries").ok_or_else(|| {
            QueryError::invalid(&boundaries_at, "is required, e.g. [0, 100, 200]")
        })?;
        let boundaries = parse_boundaries(boundaries, &boundaries_at)?;
        let default = object.get("default").cloned();
        if let Some(default) = &default {
            let inside = keys::compare(default, &boundaries[0]) != Ordering::Less
                && keys::compare(default, &boundaries[boundaries.len() - 1]) == Ordering::Less
                && same_kind(default, &boundaries[0]);
            if inside {
                return Err(QueryError::invalid(
                    format!("{at}.default"),
                    "must lie outside the boundaries' range (below the first or at/after the last), \
                     or be of another type",
                ));
            }
        }
        let output = match object.get("output") {
            Some(spec) => Group::parse_accumulators(spec, &format!("{at}.output"))?,
            None => Group::by(Expr::Literal(Value::Null)).with("count", Accumulator::count())?,
        };
        Ok(Bucket {
            group_by: Expr::parse(group_by, &group_at)?,
            boundaries,
            default,
            output,
            at: at.to_owned(),
        })
    }

    /// Empty tables for a run.
    pub(super) fn tables(&self) -> BucketTables {
        BucketTables {
            ranges: GroupTable::new(),
            default: GroupTable::new(),
        }
    }

    /// Folds one document into its bucket.
    pub(super) fn add(&self, tables: &mut BucketTables, doc: &Value) -> Result<()> {
        let value = self.group_by.eval(doc).unwrap_or(Value::Null);
        match self.lower_boundary(&value) {
            Some(lower) => tables.ranges.add_keyed(&self.output, lower.clone(), doc),
            None => match &self.default {
                Some(default) => tables.default.add_keyed(&self.output, default.clone(), doc),
                None => Err(QueryError::invalid(
                    &self.at,
                    format!(
                        "the value {} is outside every bucket and there is no `default`; \
                         add one, or widen the boundaries",
                        value.to_json_string()
                    ),
                )),
            },
        }
    }

    /// The buckets in boundary order, the default bucket last (the run is over).
    pub(super) fn release(&self, tables: BucketTables) -> impl Iterator<Item = Value> + '_ {
        tables
            .ranges
            .into_docs(&self.output)
            .chain(tables.default.into_docs(&self.output))
    }

    /// The lower boundary of the range holding `value`, if one does.
    fn lower_boundary(&self, value: &Value) -> Option<&Value> {
        if !same_kind(value, &self.boundaries[0]) {
            return None;
        }
        // The last boundary not above `value`; it must not be the upper end.
        let above = self
            .boundaries
            .partition_point(|boundary| keys::compare(boundary, value) != Ordering::Greater);
        (above > 0 && above < self.boundaries.len()).then(|| &self.boundaries[above - 1])
    }
}

/// Whether two values are of one kind for bucketing (all numbers are one kind).
fn same_kind(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| matches!(v, Value::Int(_) | Value::Float(_));
    (number(a) && number(b)) || a.type_name() == b.type_name()
}

/// Checks boundaries: an array of 2..=MAX values of one kind, strictly ascending.
fn parse_boundaries(json: &Value, at: &str) -> Result<Vec<Value>> {
    let items = json.as_array().ok_or_else(|| {
        QueryError::invalid(
            at,
            "expects an array of ascending values, e.g. [0, 100, 200]",
        )
    })?;
    if items.len() < 2 || items.len() > MAX_BUCKET_BOUNDARIES {
        return Err(QueryError::invalid(
            at,
            format!(
                "has {} values; between 2 and {MAX_BUCKET_BOUNDARIES} are allowed",
                items.len()
            ),
        ));
    }
    for (i, pair) in items.windows(2).enumerate() {
        if !same_kind(&pair[0], &pair[1]) {
            return Err(QueryError::invalid(
                format!("{at}[{}]", i + 1),
                "all boundaries must be of one type (numbers mix freely)",
            ));
        }
        if keys::compare(&pair[0], &pair[1]) != Ordering::Less {
            return Err(QueryError::invalid(
                format!("{at}[{}]", i + 1),
                "boundaries must be strictly ascending",
            ));
        }
    }
    Ok(items.clone())
}
