//! pgvector's distance operators and functions on `vector(N)` columns:
//!
//! | operator | function | distance | Cairn metric |
//! |---|---|---|---|
//! | `a <-> b` | `l2_distance(a, b)` | Euclidean | `l2` |
//! | `a <=> b` | `cosine_distance(a, b)` | `1 − cos θ` | `cosine` |
//! | `a <#> b` | `negative_inner_product(a, b)` | `−(a · b)` | `dot` |
//!
//! An operand is a vector column (a fixed-size list of `real`s), any list of numbers, or
//! pgvector's text form `'[1, 2, 3]'`. The value is Cairn's own metric (`cairn::vector::Metric`,
//! the one the vector index and `$nearVector` use), computed in `f32` like pgvector, returned
//! as `double precision`. NULL in, NULL out; vectors of different dimensions are an error
//! (`22023`), as in pgvector.
//!
//! `ORDER BY emb <-> '[…]' LIMIT k` is answered by Cairn's k-nearest search (`super::rank`).

use std::sync::Arc;

use cairn::vector::Metric;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float32Type};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::SqlError;
use cairn::vector::limits::MAX_DIMS;

/// A pgvector distance function of one Cairn metric.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VectorDistance {
    name: &'static str,
    metric: MetricName,
    signature: Signature,
}

/// A metric, by name (`Metric` itself is not `Hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum MetricName {
    L2,
    Cosine,
    Dot,
}

impl MetricName {
    fn metric(self) -> Metric {
        match self {
            MetricName::L2 => Metric::L2,
            MetricName::Cosine => Metric::Cosine,
            MetricName::Dot => Metric::Dot,
        }
    }
}

/// `l2_distance(a, b)`, the function behind `a <-> b`.
pub const L2_DISTANCE: &str = "l2_distance";
/// `cosine_distance(a, b)`, the function behind `a <=> b`.
pub const COSINE_DISTANCE: &str = "cosine_distance";
/// `negative_inner_product(a, b)`, the function behind `a <#> b`.
pub const NEGATIVE_INNER_PRODUCT: &str = "negative_inner_product";

/// The three distance functions.
pub fn udfs() -> Vec<ScalarUDF> {
    vec![l2_distance(), cosine_distance(), negative_inner_product()]
}

/// `l2_distance` (`<->`).
pub fn l2_distance() -> ScalarUDF {
    distance_udf(L2_DISTANCE, MetricName::L2)
}

/// `cosine_distance` (`<=>`).
pub fn cosine_distance() -> ScalarUDF {
    distance_udf(COSINE_DISTANCE, MetricName::Cosine)
}

/// `negative_inner_product` (`<#>`).
pub fn negative_inner_product() -> ScalarUDF {
    distance_udf(NEGATIVE_INNER_PRODUCT, MetricName::Dot)
}

fn distance_udf(name: &'static str, metric: MetricName) -> ScalarUDF {
    ScalarUDF::new_from_impl(VectorDistance {
        name,
        metric,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

/// The Cairn metric name (`$nearVector`'s `metric`) of a distance function, if it is one.
pub fn metric_of(function: &str) -> Option<&'static str> {
    match function {
        L2_DISTANCE => Some("l2"),
        COSINE_DISTANCE => Some("cosine"),
        NEGATIVE_INNER_PRODUCT => Some("dot"),
        _ => None,
    }
}

impl ScalarUDFImpl for VectorDistance {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<DfResult<Vec<ArrayRef>>>()?;
        let (Some(a), Some(b)) = (arrays.first(), arrays.get(1)) else {
            return Err(invalid(self.name, "takes two vectors".into()));
        };
        let metric = self.metric.metric();
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            let (Some(x), Some(y)) = (vector_at(self.name, a, i)?, vector_at(self.name, b, i)?)
            else {
                out.push(None);
                continue;
            };
            if x.len() != y.len() {
                return Err(invalid(
                    self.name,
                    format!("different vector dimensions {} and {}", x.len(), y.len()),
                ));
            }
            out.push(Some(f64::from(metric.distance(&x, &y))));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }
}

fn invalid(function: &str, reason: String) -> datafusion::error::DataFusionError {
    SqlError::InvalidArgument {
        function: function.to_string(),
        reason,
    }
    .into_datafusion()
}

/// Row `i` of `array` as a vector (`None`: NULL).
fn vector_at(function: &str, array: &ArrayRef, i: usize) -> DfResult<Option<Vec<f32>>> {
    // A bare `NULL` operand is a `NullArray`, whose `is_null` is false (it has no null buffer):
    // its type says every row is NULL.
    if array.data_type() == &DataType::Null || array.is_null(i) {
        return Ok(None);
    }
    let values = match array.data_type() {
        DataType::FixedSizeList(..) => array.as_fixed_size_list().value(i),
        DataType::List(_) => array.as_list::<i32>().value(i),
        DataType::LargeList(_) => array.as_list::<i64>().value(i),
        DataType::Utf8 => return parse_vector(array.as_string::<i32>().value(i)).map(Some),
        DataType::LargeUtf8 => return parse_vector(array.as_string::<i64>().value(i)).map(Some),
        DataType::Utf8View => return parse_vector(array.as_string_view().value(i)).map(Some),
        other => return Err(invalid(function, format!("{other} is not a vector"))),
    };
    numbers(function, &values).map(Some)
}

/// The elements of a list's values as `f32`s (NULL elements are refused, as in pgvector).
fn numbers(function: &str, values: &ArrayRef) -> DfResult<Vec<f32>> {
    if values.null_count() > 0 {
        return Err(invalid(function, "a vector must not contain NULL".into()));
    }
    let cast = datafusion::arrow::compute::cast(values, &DataType::Float32)?;
    let floats: Vec<f32> = cast.as_primitive::<Float32Type>().values().to_vec();
    check(floats).map_err(|reason| invalid(function, reason))
}

/// pgvector's text form `[1, 2.5, -3]` as a vector; an error names what is wrong.
pub fn parse_vector(text: &str) -> DfResult<Vec<f32>> {
    let reason = |r: String| invalid("vector", r);
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| reason(format!("`{text}` is not a vector: write [1, 2, 3]")))?;
    if inner.trim().is_empty() {
        return Err(reason("a vector has at least one dimension".to_string()));
    }
    let floats = inner
        .split(',')
        .map(|part| {
            part.trim()
                .parse::<f32>()
                .map_err(|_| reason(format!("`{}` in a vector is not a number", part.trim())))
        })
        .collect::<DfResult<Vec<f32>>>()?;
    check(floats).map_err(|r| invalid("vector", r))
}

fn check(floats: Vec<f32>) -> Result<Vec<f32>, String> {
    if floats.is_empty() || floats.len() > MAX_DIMS {
        return Err(format!(
            "a vector has 1 to {MAX_DIMS} dimensions, not {}",
            floats.len()
        ));
    }
    if let Some(at) = floats.iter().position(|f| !f.is_finite()) {
        return Err(format!("vector component {at} is not finite"));
    }
    Ok(floats)
}

/// A constant query vector (a text literal or a list literal), for the k-nearest pushdown.
pub fn literal_vector(value: &ScalarValue) -> Option<Vec<f32>> {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => parse_vector(s).ok(),
        ScalarValue::FixedSizeList(_) | ScalarValue::List(_) | ScalarValue::LargeList(_) => {
            let array = value.to_array().ok()?;
            let values = match array.data_type() {
                DataType::FixedSizeList(..) => array.as_fixed_size_list().value(0),
                DataType::List(_) => array.as_list::<i32>().value(0),
                _ => array.as_list::<i64>().value(0),
            };
            numbers("vector", &values).ok()
        }
        _ => None,
    }
}

/// A vector as JSON numbers for a Cairn filter (`f32` widened exactly).
pub fn vector_value(vector: &[f32]) -> cairn::Value {
    cairn::Value::Array(
        vector
            .iter()
            .map(|f| cairn::Value::Float(f64::from(*f)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_vectors_parse_and_bad_ones_say_why() {
        assert_eq!(parse_vector(" [1, 2.5,-3] ").unwrap(), vec![1.0, 2.5, -3.0]);
        assert!(parse_vector("1,2")
            .unwrap_err()
            .to_string()
            .contains("[1, 2, 3]"));
        assert!(parse_vector("[1,x]")
            .unwrap_err()
            .to_string()
            .contains("`x`"));
        assert!(parse_vector("[]")
            .unwrap_err()
            .to_string()
            .contains("at least one dimension"));
        assert!(parse_vector("[1,NaN]")
            .unwrap_err()
            .to_string()
            .contains("finite"));
    }
}
