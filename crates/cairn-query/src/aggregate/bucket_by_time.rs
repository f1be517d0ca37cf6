//! `$bucketByTime`: downsampling as a stage — documents put into fixed time buckets (per
//! series when `by` is given), each bucket folded by `$group`'s accumulators:
//!
//! ```text
//! {"$bucketByTime": {"time": "$t", "every": 300000, "by": "$sensor",
//!                    "output": {"v": {"$avg": "$v"}, "hi": {"$max": "$v"}, "n": {"$count": {}}}}}
//! ```
//!
//! A document whose time is `t` lands in the bucket starting at `t - t mod every` (floored,
//! so negative times bucket like positive ones); its `_id` is `{"by": <by value>, "start":
//! <bucket start>}` (just the start without `by`). Times are integers (a time-series
//! collection's points, whatever their unit) or datetimes (bucketed in microseconds; the start
//! is a datetime); a document whose time is anything else fails the stage, naming the value.
//! Buckets come out in `_id` order (series, then time); empty buckets are left out (the
//! time-series API's `downsample` fills gaps). `$first`/`$last` follow input order, which on a
//! time-series collection is time order within a series. Without `output`, each bucket counts
//! its documents in `count`. Memory: `$group`'s table and limit
//! ([`crate::limits::MAX_GROUP_BYTES`]). On a time-series collection, a leading `$match` on
//! the time and meta fields skips whole series and chunks (the model's source).

use cairn_doc::{DateTime, Object, Value};

use super::expr::Expr;
use super::group::{Accumulator, Group, GroupTable};
use crate::error::{QueryError, Result};

/// A `$bucketByTime` stage.
#[derive(Debug, Clone)]
pub struct BucketByTime {
    time: Expr,
    /// Bucket width in the time's unit (microseconds for datetimes); positive.
    every: i64,
    by: Option<Expr>,
    /// The accumulators (its key expression is unused: the key is the bucket).
    output: Group,
    /// Where the stage sits, for run-time errors.
    at: String,
}

impl BucketByTime {
    /// Parses `{"time": "$t", "every": N, "by": "$s", "output": {..}}`.
    pub fn parse(json: &Value, at: &str) -> Result<BucketByTime> {
        let usage =
            "expects {\"time\": \"$t\", \"every\": 300, \"by\": \"$series\", \"output\": {..}}";
        let object = json
            .as_object()
            .ok_or_else(|| QueryError::invalid(at, usage))?;
        if let Some(key) = object
            .keys()
            .find(|k| !matches!(*k, "time" | "every" | "by" | "output"))
        {
            return Err(QueryError::invalid(
                format!("{at}.{key}"),
                "unknown option; $bucketByTime takes time, every, by, output",
            ));
        }
        let reference = |name: &str| -> Result<Option<Expr>> {
            let here = format!("{at}.{name}");
            match object.get(name) {
                None => Ok(None),
                Some(Value::String(text)) if text.starts_with('$') => {
                    Expr::parse(&Value::String(text.clone()), &here).map(Some)
                }
                Some(other) if other.as_object().is_some() => Expr::parse(other, &here).map(Some),
                Some(_) => Err(QueryError::invalid(
                    here,
                    "expects a field reference such as \"$t\" or an object expression",
                )),
            }
        };
        let time = reference("time")?
            .ok_or_else(|| QueryError::invalid(format!("{at}.time"), "is required, e.g. \"$t\""))?;
        let by = reference("by")?;
        let every = match object.get("every") {
            Some(Value::Int(n)) if *n > 0 => *n,
            _ => {
                return Err(QueryError::invalid(
                    format!("{at}.every"),
                    "is required: a positive integer bucket width in the time's unit \
                     (microseconds for datetimes)",
                ))
            }
        };
        let output = match object.get("output") {
            Some(spec) => Group::parse_accumulators(spec, &format!("{at}.output"))?,
            None => Group::by(Expr::Literal(Value::Null)).with("count", Accumulator::count())?,
        };
        Ok(BucketByTime {
            time,
            every,
            by,
            output,
            at: at.to_owned(),
        })
    }

    /// Folds one document into its bucket.
    pub(super) fn add(&self, table: &mut GroupTable, doc: &Value) -> Result<()> {
        let time = self.time.eval(doc).unwrap_or(Value::Null);
        let start = match time {
            Value::Int(t) => self.start(t).map(Value::Int),
            Value::DateTime(at) => self
                .start(at.micros())
                .map(|s| Value::DateTime(DateTime::from_micros(s))),
            _ => None,
        };
        let Some(start) = start else {
            return Err(QueryError::invalid(
                &self.at,
                format!(
                    "time {} is not an integer or a datetime (or its bucket lies below the \
                     64-bit range); filter such documents out first",
                    time.to_json_string()
                ),
            ));
        };
        let key = match &self.by {
            Some(by) => {
                let mut key = Object::with_capacity(2);
                key.insert("by", by.eval(doc).unwrap_or(Value::Null));
                key.insert("start", start);
                Value::Object(key)
            }
            None => start,
        };
        table.add_keyed(&self.output, key, doc)
    }

    /// The start of the bucket holding `t`, if it is an `i64`.
    fn start(&self, t: i64) -> Option<i64> {
        t.checked_sub(t.rem_euclid(self.every))
    }

    /// The buckets in `_id` order (the run is over).
    pub(super) fn release(&self, table: GroupTable) -> impl Iterator<Item = Value> + '_ {
        table.into_docs(&self.output)
    }
}
