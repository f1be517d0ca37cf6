//! Model predicates Cairn's planner can take over: `st_3ddwithin(geom, '<WKT>', d)` is
//! `{"geom": {"$withinDistance": {"shape": "<WKT>", "distance": d}}}`, served by a spatial
//! index on `geom` when there is one.
//!
//! Exactness follows `crate::pushdown`: `$withinDistance` tests each value the field reaches
//! (and the elements of an array), which equals the SQL function only when every stored value
//! is one geometry, i.e. on a declared `geometry` column; on a schemaless collection it is a
//! narrowing DataFusion re-checks. A NULL or missing geometry matches neither way.

use cairn::query::parse_filter;
use cairn::query::Filter;
use cairn::{Object, Value};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::Expr;

use super::geo::{literal_shape, ST_3DDWITHIN};
use crate::types::{ColumnType, TableShape};

/// The Cairn filter for a model predicate and whether it is exact, if it is one.
pub fn translate(shape: &TableShape, expr: &Expr) -> Option<(Filter, bool)> {
    let Expr::ScalarFunction(ScalarFunction { func, args }) = expr else {
        return None;
    };
    if func.name() != ST_3DDWITHIN {
        return None;
    }
    let [a, b, d] = args.as_slice() else {
        return None;
    };
    let (column, wkt) = match (a, b) {
        (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c)) => {
            (c, literal_shape(v)?)
        }
        _ => return None,
    };
    let found = shape.column(&column.name)?;
    if found.ty != ColumnType::Geometry {
        return None;
    }
    let distance = match d {
        Expr::Literal(ScalarValue::Float64(Some(d)), _) => *d,
        Expr::Literal(ScalarValue::Int64(Some(d)), _) => *d as f64,
        _ => return None,
    };
    if !distance.is_finite() || distance < 0.0 {
        return None;
    }
    let mut operand = Object::new();
    operand.insert("shape", Value::String(wkt));
    operand.insert("distance", Value::Float(distance));
    let mut ops = Object::new();
    ops.insert("$withinDistance", Value::Object(operand));
    let mut condition = Object::new();
    condition.insert(found.name.clone(), Value::Object(ops));
    let filter = parse_filter(&Value::Object(condition)).ok()?;
    Some((filter, shape.declared))
}
