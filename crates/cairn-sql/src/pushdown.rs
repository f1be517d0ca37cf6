//! Which SQL filters Cairn's planner can take over, and their translation into Cairn filters.
//!
//! A filter is pushed down when it is a conjunction/disjunction of `column <op> literal`
//! (`= < <= > >=`), `column IN (literals)`, `column IS [NOT] NULL`, on a scalar column
//! (`bigint double boolean text timestamp`, and `_id` for `=`/`IN`) with a literal of the
//! column's type bracket. Cairn's planner then picks an index or the primary key for it.
//!
//! Exactness: Cairn's `$eq`/`$lt`... compare within a type bracket and `{"f": null}` matches a
//! missing field, which is SQL's semantics for a column whose every value has the column's
//! type. That is guaranteed only by a declared schema (enforced on every write), so filters
//! on a declared collection are `Exact` (DataFusion drops its own re-check and can push
//! `LIMIT` into the scan); on a schemaless collection a field may hold an array (Cairn's `$eq`
//! also matches an element) or a value of another type (which reads as NULL), so they are
//! `Inexact`: Cairn still narrows with its indexes — every row SQL would keep is among the
//! documents Cairn returns — and DataFusion re-checks each row. `_id` filters are `Exact`
//! everywhere: an id's text (`convert::id_text`) names exactly one id.
//!
//! `_id = 42` (an integer literal) reaches the provider as `CAST(_id AS BIGINT) = 42`:
//! DataFusion casts the text column to the literal's type. Its rows are the ids whose text
//! casts to 42 — the integer id 42, and string ids such as `"042"` — and the cast fails on
//! any other id's text. So it is answered `Inexact` (DataFusion still evaluates it, errors
//! included) and pushed as the point lookup of the integer ids only when the statement's
//! snapshot holds no string or UUID id ([`id_cast_lookup`]; the provider probes for them),
//! where the two agree; otherwise the scan reads every document, as without pushdown.

use cairn::query::Filter;
use cairn::{DocId, Value};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};

use crate::types::{ColumnType, TableShape, ID_COLUMN};

/// How far `expr` can be pushed into Cairn for a table of `shape`.
pub fn support(shape: &TableShape, expr: &Expr) -> TableProviderFilterPushDown {
    if id_cast_ids(expr).is_some() {
        return TableProviderFilterPushDown::Inexact;
    }
    match translate(shape, expr) {
        None => TableProviderFilterPushDown::Unsupported,
        Some((_, true)) => TableProviderFilterPushDown::Exact,
        Some((_, false)) => TableProviderFilterPushDown::Inexact,
    }
}

/// The Cairn filter of the conjunction of `exprs` (those that translate; the rest were
/// answered `Unsupported` and DataFusion applies them).
pub fn to_filter(shape: &TableShape, exprs: &[Expr]) -> Filter {
    Filter::and(
        exprs
            .iter()
            .filter_map(|e| translate(shape, e).map(|(filter, _)| filter)),
    )
}

/// The point lookup of the integer ids that `CAST(_id AS <integer>) = n` (or `IN (n, …)`)
/// filters among `exprs` name (their conjunction), if any: the rows of those filters when
/// the table holds integer ids only (see the module's notes; the caller checks that).
pub fn id_cast_lookup(exprs: &[Expr]) -> Option<Filter> {
    let lookups: Vec<Filter> = exprs
        .iter()
        .filter_map(id_cast_ids)
        .filter_map(|ids| {
            let values: Vec<Value> = ids.into_iter().map(Value::Int).collect();
            Some(Filter::field(ID_COLUMN).ok()?.is_in(values))
        })
        .collect();
    (!lookups.is_empty()).then(|| Filter::and(lookups))
}

/// The integers of `CAST(_id AS <integer>) = n`, `n = CAST(…)` or `CAST(…) IN (n, …)`.
fn id_cast_ids(expr: &Expr) -> Option<Vec<i64>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let literal = if is_id_cast(left) {
                right
            } else if is_id_cast(right) {
                left
            } else {
                return None;
            };
            Some(vec![integer_of(literal_of(literal)?)?])
        }
        Expr::InList(list) if !list.negated && is_id_cast(&list.expr) => list
            .list
            .iter()
            .map(|item| integer_of(literal_of(item)?))
            .collect(),
        _ => None,
    }
}

/// Whether `expr` is `CAST(_id AS <integer type>)`.
fn is_id_cast(expr: &Expr) -> bool {
    matches!(expr, Expr::Cast(cast)
        if cast.field.data_type().is_integer()
            && matches!(cast.expr.as_ref(), Expr::Column(c) if c.name == ID_COLUMN))
}

fn integer_of(value: &ScalarValue) -> Option<i64> {
    match number_of(value)? {
        Value::Int(i) => Some(i),
        _ => None,
    }
}

/// The Cairn filter for `expr` alone, if it translates (exact or a superset).
pub(crate) fn translate_one(shape: &TableShape, expr: &Expr) -> Option<Filter> {
    translate(shape, expr).map(|(filter, _)| filter)
}

/// The Cairn filter for `expr` and whether it is exact, if it translates.
fn translate(shape: &TableShape, expr: &Expr) -> Option<(Filter, bool)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And | Operator::Or => {
                let (l, l_exact) = translate(shape, left)?;
                let (r, r_exact) = translate(shape, right)?;
                let filter = if *op == Operator::And {
                    Filter::and([l, r])
                } else {
                    Filter::or([l, r])
                };
                Some((filter, l_exact && r_exact))
            }
            _ => comparison(shape, left, *op, right),
        },
        Expr::InList(list) if !list.negated => {
            let (name, ty) = column_of(shape, &list.expr)?;
            let mut values = Vec::with_capacity(list.list.len());
            for item in &list.list {
                values.extend(literal_values(&ty, literal_of(item)?)?);
            }
            let filter = Filter::field(&name).ok()?.is_in(values);
            Some((filter, exact_for(shape, &ty)))
        }
        Expr::IsNull(inner) => {
            let (name, ty) = column_of(shape, inner)?;
            (ty != ColumnType::Id).then(|| {
                Filter::field(&name)
                    .ok()
                    .map(|f| (f.eq(Value::Null), exact_for(shape, &ty)))
            })?
        }
        Expr::IsNotNull(inner) => {
            let (name, ty) = column_of(shape, inner)?;
            (ty != ColumnType::Id).then(|| {
                Filter::field(&name)
                    .ok()
                    .map(|f| (f.ne(Value::Null), exact_for(shape, &ty)))
            })?
        }
        Expr::ScalarFunction(_) => crate::functions::pushdown::translate(shape, expr),
        _ => None,
    }
}

fn comparison(
    shape: &TableShape,
    left: &Expr,
    op: Operator,
    right: &Expr,
) -> Option<(Filter, bool)> {
    // `literal op column` is `column op' literal`.
    let (column, op, literal) = match (column_of(shape, left), literal_of(right)) {
        (Some(column), Some(literal)) => (column, op, literal),
        _ => (column_of(shape, right)?, op.swap()?, literal_of(left)?),
    };
    let (name, ty) = column;
    let field = Filter::field(&name).ok()?;
    if ty == ColumnType::Id {
        // Equality only: the order of id texts is not the order of ids.
        if op != Operator::Eq {
            return None;
        }
        return Some((field.is_in(literal_values(&ty, literal)?), true));
    }
    let mut values = literal_values(&ty, literal)?;
    let value = values.pop()?;
    let filter = match op {
        Operator::Eq => field.eq(value),
        Operator::Lt => field.lt(value),
        Operator::LtEq => field.lte(value),
        Operator::Gt => field.gt(value),
        Operator::GtEq => field.gte(value),
        _ => return None,
    };
    Some((filter, exact_for(shape, &ty)))
}

fn exact_for(shape: &TableShape, ty: &ColumnType) -> bool {
    *ty == ColumnType::Id || shape.declared
}

/// The top-level column `expr` names, with its type, if it is one Cairn can filter on.
fn column_of(shape: &TableShape, expr: &Expr) -> Option<(String, ColumnType)> {
    let Expr::Column(column) = expr else {
        return None;
    };
    let found = shape.column(&column.name)?;
    (found.ty == ColumnType::Id || found.ty.is_comparable_scalar())
        .then(|| (found.name.clone(), found.ty.clone()))
}

fn literal_of(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(value, _) if !value.is_null() => Some(value),
        _ => None,
    }
}

/// The Cairn values a SQL literal compared with a column of type `ty` stands for;
/// `None` when the literal is not of the column's type bracket.
fn literal_values(ty: &ColumnType, literal: &ScalarValue) -> Option<Vec<Value>> {
    let value = match (ty, literal) {
        (ColumnType::Id, s) => {
            // The inverse of `convert::id_text`: exactly one id has this text.
            return Some(vec![DocId::parse_cli(&string_of(s)?).to_value()]);
        }
        (ColumnType::Int | ColumnType::Float, s) => number_of(s)?,
        (ColumnType::Text, s) => Value::String(string_of(s)?),
        (ColumnType::Bool, ScalarValue::Boolean(Some(b))) => Value::Bool(*b),
        (ColumnType::DateTime, ScalarValue::TimestampMicrosecond(Some(us), _)) => {
            Value::DateTime(cairn::DateTime(*us))
        }
        (ColumnType::DateTime, ScalarValue::TimestampMillisecond(Some(ms), _)) => {
            Value::DateTime(cairn::DateTime(ms.checked_mul(1000)?))
        }
        (ColumnType::DateTime, ScalarValue::TimestampSecond(Some(s), _)) => {
            Value::DateTime(cairn::DateTime(s.checked_mul(1_000_000)?))
        }
        _ => return None,
    };
    Some(vec![value])
}

fn string_of(s: &ScalarValue) -> Option<String> {
    match s {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        _ => None,
    }
}

fn number_of(s: &ScalarValue) -> Option<Value> {
    Some(match s {
        ScalarValue::Int8(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::Int16(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::Int32(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::Int64(Some(i)) => Value::Int(*i),
        ScalarValue::UInt8(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::UInt16(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::UInt32(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::UInt64(Some(i)) => Value::Int(i64::try_from(*i).ok()?),
        ScalarValue::Float32(Some(f)) if f.is_finite() => Value::Float(f64::from(*f)),
        ScalarValue::Float64(Some(f)) if f.is_finite() => Value::Float(*f),
        _ => return None,
    })
}
