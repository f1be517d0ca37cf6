//! PostgreSQL's JSON operators on JSON-text columns: `col -> 'key'` (the member as JSON text),
//! `col ->> 'key'` (as plain text: strings unquoted), `col -> 0` (an array element). Fields
//! that are not in a collection's schema (mixed types, objects without known fields) read as
//! JSON text, and these reach inside them. A missing member, or a value that is not JSON, is
//! NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result as DfResult};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Plans `->` and `->>` as [`json_get`] and [`json_get_text`].
#[derive(Debug)]
pub struct JsonArrows;

impl ExprPlanner for JsonArrows {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        _schema: &DFSchema,
    ) -> DfResult<PlannerResult<RawBinaryExpr>> {
        let udf = match expr.op {
            BinaryOperator::Arrow => json_get(),
            BinaryOperator::LongArrow => json_get_text(),
            _ => return Ok(PlannerResult::Original(expr)),
        };
        Ok(PlannerResult::Planned(
            udf.call(vec![expr.left, expr.right]),
        ))
    }
}

/// `json_get(json, key)`: the member (or element, for a numeric key on an array) as JSON text.
pub fn json_get() -> ScalarUDF {
    udf("json_get", false)
}

/// `json_get_text(json, key)`: the member as text (a string without its quotes).
pub fn json_get_text() -> ScalarUDF {
    udf("json_get_text", true)
}

fn udf(name: &str, as_text: bool) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(array) => Some(array.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let arrays = args
                .iter()
                .map(|a| a.to_array(rows))
                .collect::<DfResult<Vec<ArrayRef>>>()?;
            let (Some(docs), Some(keys)) = (arrays.first(), arrays.get(1)) else {
                return Ok(ColumnarValue::Array(Arc::new(StringArray::new_null(rows))));
            };
            let (docs, keys) = (docs.as_string::<i32>(), keys.as_string::<i32>());
            let out: StringArray = (0..rows)
                .map(|i| {
                    if docs.is_null(i) || keys.is_null(i) {
                        return None;
                    }
                    member(docs.value(i), keys.value(i), as_text)
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

fn member(doc: &str, key: &str, as_text: bool) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(doc).ok()?;
    let found = match &value {
        serde_json::Value::Object(object) => object.get(key)?,
        serde_json::Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
        _ => return None,
    };
    Some(match (found, as_text) {
        (serde_json::Value::Null, true) => return None,
        (serde_json::Value::String(s), true) => s.clone(),
        (other, _) => other.to_string(),
    })
}
