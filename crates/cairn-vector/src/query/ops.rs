//! `$nearVector`: the `k` documents whose vector is nearest to a query vector.
//!
//! ```text
//! {"emb": {"$nearVector": {"vector": [0.1, 0.2, ...], "k": 10,
//!                          "ef": 100, "exact": false, "metric": "cosine",
//!                          "distanceField": "_distance"}}}
//! ```
//!
//! `vector` is a plain JSON array of numbers or `{"$vector": [...]}`. It selects the `k`
//! nearest documents (ties by `_id`) among those matching the rest of the filter, returns them
//! nearest first (unless a sort is given) and writes each distance into `distanceField`
//! (default `_distance`); like `$near` it must be a top-level condition, at most one ranking
//! condition per query (`cairn_query::ranked`). The distance is the metric of the vector index
//! on the field; `metric` may name it (an index of another metric is then not used) and is
//! required when the field has no ready index (an exact scan ranks by it). `ef` overrides the
//! index's search list size; `exact: true` computes every distance (brute force) instead of
//! walking the graph.

use std::any::Any;

use cairn_doc::Value;
use cairn_query::access::{operand_options, FieldOperator, Ranking};
use cairn_query::limits::MAX_NEAR_K;
use cairn_query::{QueryError, Result};

use crate::limits::{MAX_DIMS, MAX_EF};
use crate::metric::Metric;

/// Default name of the field `$nearVector` writes each result's distance into (the same as
/// `$near`'s).
pub const DEFAULT_DISTANCE_FIELD: &str = "_distance";

/// A parsed `$nearVector`.
#[derive(Debug, Clone)]
pub struct NearVector {
    /// The query vector.
    pub vector: Vec<f32>,
    /// The metric asked for (`None`: the index's).
    pub metric: Option<Metric>,
    /// The search list size (`None`: the index's `ef_search`).
    pub ef: Option<usize>,
    /// Brute force instead of the graph.
    pub exact: bool,
    /// How many, and where each result's distance is written.
    pub ranking: Ranking,
}

impl FieldOperator for NearVector {
    fn name(&self) -> &str {
        "$nearVector"
    }

    /// A value matches when it is a vector of the query's dimension (the nearest-k selection
    /// happens in `find`).
    fn holds(&self, value: &Value) -> bool {
        matches!(value, Value::Vector(v) if v.len() == self.vector.len())
    }

    fn ranking(&self) -> Option<&Ranking> {
        Some(&self.ranking)
    }

    /// The distance under the metric asked for; `None` without one (the query layer then
    /// never ranks by a scan: `VectorModel::access_methods` refuses such a query unless an
    /// index ranks it).
    fn rank(&self, value: &Value) -> Option<f64> {
        let Value::Vector(v) = value else {
            return None;
        };
        let metric = self.metric?;
        (v.len() == self.vector.len())
            .then(|| f64::from(metric.distance(&self.vector, v.as_slice())))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Parses the operand of `$nearVector`; `None` when `key` is another operator.
pub fn parse(key: &str, operand: &Value, place: &str) -> Option<Result<NearVector>> {
    (key == "$nearVector").then(|| parse_near_vector(operand, place))
}

const OPTIONS: &[&str] = &["vector", "k", "ef", "exact", "metric", "distanceField"];

fn parse_near_vector(operand: &Value, place: &str) -> Result<NearVector> {
    let invalid = |reason: String| QueryError::invalid(place, reason);
    let o = operand_options(operand, "$nearVector", OPTIONS, place)?;
    let vector = query_vector(o.get("vector"), place)?;
    let k = match o.get("k") {
        Some(Value::Int(k)) if *k >= 1 && (*k as u64) <= MAX_NEAR_K as u64 => *k as usize,
        _ => {
            return Err(invalid(format!(
                "`k` must be an integer from 1 to {MAX_NEAR_K}"
            )))
        }
    };
    let ef = match o.get("ef") {
        None => None,
        Some(Value::Int(ef)) if *ef >= 1 && (*ef as u64) <= MAX_EF as u64 => Some(*ef as usize),
        Some(_) => {
            return Err(invalid(format!(
                "`ef` must be an integer from 1 to {MAX_EF}"
            )))
        }
    };
    let exact = match o.get("exact") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("`exact` must be true or false".to_string())),
    };
    let metric = match o.get("metric") {
        None => None,
        Some(Value::String(name)) => Some(Metric::parse(name).ok_or_else(|| {
            invalid(format!(
                "unknown metric `{name}` (known: cosine, dot, l2, poincare)"
            ))
        })?),
        Some(_) => return Err(invalid("`metric` must be a metric name".to_string())),
    };
    if let Some(metric) = metric {
        metric
            .validate("vector", vector.len(), &vector)
            .map_err(|err| invalid(err.to_string()))?;
    }
    let output_field = match o.get("distanceField") {
        None => DEFAULT_DISTANCE_FIELD.to_string(),
        Some(Value::String(name)) => {
            cairn_doc::check_field_name(name)
                .map_err(|err| invalid(format!("`distanceField`: {err}")))?;
            name.clone()
        }
        Some(_) => return Err(invalid("`distanceField` must be a field name".to_string())),
    };
    Ok(NearVector {
        vector,
        metric,
        ef,
        exact,
        ranking: Ranking { k, output_field },
    })
}

/// The query vector: a JSON array of numbers or `{"$vector": [...]}`, finite, not empty.
fn query_vector(operand: Option<&Value>, place: &str) -> Result<Vec<f32>> {
    let invalid = |reason: String| QueryError::invalid(place, reason);
    let vector: Vec<f32> = match operand {
        Some(Value::Vector(v)) => v.to_vec(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_f64().map(|x| x as f32).ok_or_else(|| {
                    invalid(format!(
                        "`vector` component {i} is a {}, not a number",
                        item.type_name()
                    ))
                })
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(invalid(format!(
                "`vector` must be an array of numbers or {{\"$vector\": [...]}}, found {}",
                other.type_name()
            )))
        }
        None => return Err(invalid("missing `vector`".to_string())),
    };
    if vector.is_empty() || vector.len() > MAX_DIMS {
        return Err(invalid(format!(
            "`vector` must have 1 to {MAX_DIMS} components, found {}",
            vector.len()
        )));
    }
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        return Err(invalid(format!("`vector` component {i} is not finite")));
    }
    Ok(vector)
}
