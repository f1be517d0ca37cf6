//! Filters DataFusion learns while a statement runs — a hash join's build-side keys — turned
//! into Cairn filters, so the probe side reads only the documents that can join.
//!
//! A federated join (`pg.readings r JOIN stations s ON s._id = r.station WHERE r.value = 7`)
//! builds its hash table from the 100 matching remote rows, then probes with the Cairn table.
//! Without this, the probe scans every document; with it, DataFusion's dynamic filter
//! (`_id >= min AND _id <= max AND _id IN (…)`, [`datafusion`]'s join dynamic filter
//! pushdown) becomes `{"_id": {"$in": […]}}`, which Cairn's planner answers with point reads.
//!
//! Invariants:
//! - The Cairn filter is a **superset** of the rows the expression keeps: a conjunct that does
//!   not translate is dropped (never the whole filter made stricter), and the join still
//!   checks every row it receives, so the answer never changes — only how much is read.
//! - The expression is read once, when the probe scan starts producing. DataFusion's hash
//!   join polls its probe side only after the build side is collected and the filter
//!   updated; any other dynamic filter (a `TopK`'s threshold) is still its placeholder
//!   `true` then, which translates to nothing.

use std::sync::Arc;

use cairn::query::{Filter, Op};
use cairn::{DocId, Value};
use datafusion::common::{Column as LogicalColumn, ScalarValue};
use datafusion::logical_expr::{BinaryExpr as LogicalBinary, Expr, Operator};
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, DynamicFilterPhysicalExpr, InListExpr, IsNullExpr,
    Literal,
};
use datafusion::physical_expr::PhysicalExpr;

use crate::limits::MAX_RUNTIME_FILTER_KEYS;
use crate::pushdown;
use crate::types::{TableShape, ID_COLUMN};

/// Whether `expr` is a filter DataFusion fills in while running (and so worth keeping for
/// the scan's start); static filters were already offered to the provider at planning.
pub fn is_runtime(expr: &Arc<dyn PhysicalExpr>) -> bool {
    expr.downcast_ref::<DynamicFilterPhysicalExpr>().is_some()
}

/// A runtime filter's Cairn form.
#[derive(Debug)]
pub struct Narrowing {
    /// Documents outside it cannot join.
    pub filter: Filter,
    /// The filter reads `CAST(_id AS integer) IN (…)` as `_id IN (…)`, which keeps every
    /// row only if the collection holds no string ids (`"042"` also casts to 42) and no
    /// UUID ids (whose text the cast refuses): the scan checks that in its snapshot before
    /// using the filter (`scan::holds_only_integer_ids`).
    pub assumes_no_string_ids: bool,
}

/// The Cairn filter for the current value of the runtime filters `exprs` on a table of
/// `shape`; `None` when nothing of them translates (read as if there were none).
pub fn to_filter(shape: &TableShape, exprs: &[Arc<dyn PhysicalExpr>]) -> Option<Narrowing> {
    let mut casts_id = false;
    let mut parts = Vec::new();
    for expr in exprs {
        let current = match expr.downcast_ref::<DynamicFilterPhysicalExpr>() {
            // An error here means DataFusion could not produce the filter: read everything.
            Some(dynamic) => dynamic.current().ok()?,
            None => expr.clone(),
        };
        match superset(shape, &current, &mut casts_id) {
            Superset::Some(filter) => parts.push(filter),
            // No id is in the empty list: point reads of nothing.
            Superset::Nothing => parts.push(Filter::field(ID_COLUMN).ok()?.is_in(Vec::new())),
            Superset::Everything => {}
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(Narrowing {
        filter: Filter::and(parts),
        assumes_no_string_ids: casts_id,
    })
}

/// A Cairn filter keeping at least the rows an expression keeps.
enum Superset {
    /// Every row (nothing translated).
    Everything,
    /// No row (the expression is `false`: a join whose build side is empty).
    Nothing,
    /// The rows of this filter.
    Some(Filter),
}

/// The narrowest Cairn filter this module can build that keeps every row `expr` keeps:
/// `AND` keeps the parts that translate, `OR` and `CASE` (a partitioned join's filter, one
/// branch per partition) need every branch, a leaf goes through [`pushdown`].
fn superset(shape: &TableShape, expr: &Arc<dyn PhysicalExpr>, casts_id: &mut bool) -> Superset {
    if let Some(literal) = expr.downcast_ref::<Literal>() {
        return match literal.value() {
            ScalarValue::Boolean(Some(false)) | ScalarValue::Boolean(None) => Superset::Nothing,
            _ => Superset::Everything,
        };
    }
    if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        match binary.op() {
            Operator::And => {
                let parts = [binary.left(), binary.right()].map(|e| superset(shape, e, casts_id));
                let mut kept = Vec::new();
                for part in parts {
                    match part {
                        Superset::Nothing => return Superset::Nothing,
                        Superset::Some(filter) => kept.push(filter),
                        Superset::Everything => {}
                    }
                }
                return match kept.len() {
                    0 => Superset::Everything,
                    _ => Superset::Some(Filter::and(kept)),
                };
            }
            Operator::Or => return any_of(shape, [binary.left(), binary.right()], casts_id),
            _ => {}
        }
    }
    if let Some(case) = expr.downcast_ref::<CaseExpr>() {
        // Whatever the conditions, the value is one of the branches (no ELSE: NULL, false).
        let branches = case
            .when_then_expr()
            .iter()
            .map(|(_, then)| then)
            .chain(case.else_expr());
        return any_of(shape, branches, casts_id);
    }
    let mut leaf_casts_id = false;
    let Some(logical) = to_logical(expr, &mut leaf_casts_id) else {
        return Superset::Everything;
    };
    match pushdown::translate_one(shape, &logical) {
        Some(filter) => {
            *casts_id |= leaf_casts_id;
            Superset::Some(filter)
        }
        None => Superset::Everything,
    }
}

/// The union of the supersets of `branches`: everything if any branch is.
fn any_of<'a>(
    shape: &TableShape,
    branches: impl IntoIterator<Item = &'a Arc<dyn PhysicalExpr>>,
    casts_id: &mut bool,
) -> Superset {
    let mut kept = Vec::new();
    for branch in branches {
        match superset(shape, branch, casts_id) {
            Superset::Everything => return Superset::Everything,
            Superset::Some(filter) => kept.push(filter),
            Superset::Nothing => {}
        }
    }
    match kept.len() {
        0 => Superset::Nothing,
        1 => Superset::Some(kept.remove(0)),
        _ => Superset::Some(id_union(&kept).unwrap_or_else(|| Filter::or(kept))),
    }
}

/// `_id IN (every branch's ids)` when each of `branches` limits `_id` to a list: a superset
/// of their union that the planner reads by key. (A partitioned join's filter is one branch per
/// partition; as an `$or` nested in the scan's `$and` it would be a full scan.)
fn id_union(branches: &[Filter]) -> Option<Filter> {
    let mut ids = std::collections::BTreeSet::new();
    for branch in branches {
        for value in id_points(branch)? {
            ids.insert(DocId::from_value(&value).ok()?);
        }
    }
    Some(
        Filter::field(ID_COLUMN)
            .ok()?
            .is_in(ids.iter().map(DocId::to_value)),
    )
}

/// The ids `filter` limits `_id` to, if one of its conjuncts is `_id` `$eq`/`$in`.
fn id_points(filter: &Filter) -> Option<Vec<Value>> {
    match filter {
        Filter::And(parts) => parts.iter().find_map(id_points),
        Filter::Field(path, ops) if path.segments() == [ID_COLUMN] => {
            ops.iter().find_map(|op| match op {
                Op::In(values) => Some(values.clone()),
                Op::Eq(value) => Some(vec![value.clone()]),
                _ => None,
            })
        }
        _ => None,
    }
}

/// The logical form of a physical filter made of columns, literals, comparisons, `AND`/`OR`,
/// `IN` lists and `IS NULL` — what [`pushdown`] translates; `None` for anything else (a hash
/// table lookup, a function), or an `IN` list longer than [`MAX_RUNTIME_FILTER_KEYS`].
///
/// `CAST(_id AS integer)` compared with integers (DataFusion's coercion of `_id = int_column`
/// in a join) becomes `_id` compared with the integers' texts, and sets `casts_id`.
fn to_logical(expr: &Arc<dyn PhysicalExpr>, casts_id: &mut bool) -> Option<Expr> {
    if let Some(column) = expr.downcast_ref::<Column>() {
        return Some(Expr::Column(LogicalColumn::new_unqualified(column.name())));
    }
    if let Some(literal) = expr.downcast_ref::<Literal>() {
        return Some(Expr::Literal(literal.value().clone(), None));
    }
    if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        let op = *binary.op();
        let (left, right) = (binary.left(), binary.right());
        if op == Operator::Eq && (is_id_cast(left) || is_id_cast(right)) {
            let (cast, other) = if is_id_cast(left) {
                (left, right)
            } else {
                (right, left)
            };
            let text = integer_text(other)?;
            *casts_id = true;
            return Some(Expr::BinaryExpr(LogicalBinary::new(
                Box::new(id_column(cast)?),
                Operator::Eq,
                Box::new(text),
            )));
        }
        return Some(Expr::BinaryExpr(LogicalBinary::new(
            Box::new(to_logical(left, casts_id)?),
            op,
            Box::new(to_logical(right, casts_id)?),
        )));
    }
    if let Some(list) = expr.downcast_ref::<InListExpr>() {
        if list.negated() || list.list().len() > MAX_RUNTIME_FILTER_KEYS {
            return None;
        }
        let (subject, items) = if is_id_cast(list.expr()) {
            let items = list
                .list()
                .iter()
                .map(integer_text)
                .collect::<Option<_>>()?;
            *casts_id = true;
            (id_column(list.expr())?, items)
        } else {
            let items = list
                .list()
                .iter()
                .map(|item| to_logical(item, casts_id))
                .collect::<Option<_>>()?;
            (to_logical(list.expr(), casts_id)?, items)
        };
        return Some(Expr::InList(datafusion::logical_expr::expr::InList::new(
            Box::new(subject),
            items,
            false,
        )));
    }
    if let Some(is_null) = expr.downcast_ref::<IsNullExpr>() {
        return Some(Expr::IsNull(Box::new(to_logical(is_null.arg(), casts_id)?)));
    }
    None
}

/// Whether `expr` is `CAST(_id AS <integer type>)`.
fn is_id_cast(expr: &Arc<dyn PhysicalExpr>) -> bool {
    expr.downcast_ref::<CastExpr>().is_some_and(|cast| {
        cast.cast_type().is_integer()
            && cast
                .expr()
                .downcast_ref::<Column>()
                .is_some_and(|c| c.name() == ID_COLUMN)
    })
}

/// The `_id` column under a cast [`is_id_cast`] accepted.
fn id_column(cast: &Arc<dyn PhysicalExpr>) -> Option<Expr> {
    let column = cast
        .downcast_ref::<CastExpr>()?
        .expr()
        .downcast_ref::<Column>()?;
    Some(Expr::Column(LogicalColumn::new_unqualified(column.name())))
}

/// An integer literal as the text of the integer id it equals (`42` → `'42'`, the text
/// `crate::convert::id_text` gives `DocId::Int(42)`).
fn integer_text(expr: &Arc<dyn PhysicalExpr>) -> Option<Expr> {
    let value = expr.downcast_ref::<Literal>()?.value();
    let text = match value {
        ScalarValue::Int8(Some(i)) => i.to_string(),
        ScalarValue::Int16(Some(i)) => i.to_string(),
        ScalarValue::Int32(Some(i)) => i.to_string(),
        ScalarValue::Int64(Some(i)) => i.to_string(),
        ScalarValue::UInt8(Some(i)) => i.to_string(),
        ScalarValue::UInt16(Some(i)) => i.to_string(),
        ScalarValue::UInt32(Some(i)) => i.to_string(),
        ScalarValue::UInt64(Some(i)) => i.to_string(),
        _ => return None,
    };
    Some(Expr::Literal(ScalarValue::Utf8(Some(text)), None))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::physical_expr::expressions::lit;

    use super::*;
    use crate::types::{Column, ColumnType, TableShape};

    fn shape() -> TableShape {
        let column = |name: &str, ty| Column {
            name: name.to_string(),
            ty,
            required: false,
        };
        TableShape {
            columns: vec![column("_id", ColumnType::Id), column("n", ColumnType::Int)],
            declared: false,
        }
    }

    fn col(name: &str, index: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(datafusion::physical_expr::expressions::Column::new(
            name, index,
        ))
    }

    fn and(l: Arc<dyn PhysicalExpr>, r: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(l, Operator::And, r))
    }

    fn in_list(column: Arc<dyn PhysicalExpr>, values: &[&str]) -> Arc<dyn PhysicalExpr> {
        let schema = Schema::new(vec![
            Field::new("_id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]);
        let items = values
            .iter()
            .map(|v| lit(ScalarValue::Utf8(Some((*v).to_string()))))
            .collect();
        Arc::new(InListExpr::try_new(column, items, false, &schema).unwrap())
    }

    #[test]
    fn join_keys_become_an_id_lookup_and_untranslatable_bounds_are_dropped() {
        // What a hash join on `_id` pushes: text bounds (no order on id texts: dropped) and
        // the key set.
        let bounds = and(
            Arc::new(BinaryExpr::new(
                col("_id", 0),
                Operator::GtEq,
                lit(ScalarValue::Utf8(Some("1".into()))),
            )),
            Arc::new(BinaryExpr::new(
                col("_id", 0),
                Operator::LtEq,
                lit(ScalarValue::Utf8(Some("7".into()))),
            )),
        );
        let dynamic: Arc<dyn PhysicalExpr> = Arc::new(DynamicFilterPhysicalExpr::new(
            vec![col("_id", 0)],
            lit(true),
        ));
        let keys = and(bounds, in_list(col("_id", 0), &["1", "7"]));
        dynamic
            .downcast_ref::<DynamicFilterPhysicalExpr>()
            .unwrap()
            .update(keys)
            .unwrap();
        let narrowing = to_filter(&shape(), &[dynamic]).expect("a filter");
        assert!(!narrowing.assumes_no_string_ids);
        let text = format!("{:?}", narrowing.filter);
        assert!(text.contains("_id"), "{text}");
        assert!(text.contains("Int(1)") && text.contains("Int(7)"), "{text}");
    }

    #[test]
    fn a_placeholder_or_an_overlong_list_reads_everything() {
        let dynamic: Arc<dyn PhysicalExpr> = Arc::new(DynamicFilterPhysicalExpr::new(
            vec![col("_id", 0)],
            lit(true),
        ));
        assert!(to_filter(&shape(), &[dynamic]).is_none());
        let many: Vec<String> = (0..=MAX_RUNTIME_FILTER_KEYS)
            .map(|i| i.to_string())
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(to_filter(&shape(), &[in_list(col("_id", 0), &many)]).is_none());
    }

    #[test]
    fn an_integer_cast_of_the_id_reads_the_ids_and_asks_for_a_check() {
        let cast: Arc<dyn PhysicalExpr> =
            Arc::new(CastExpr::new(col("_id", 0), DataType::Int64, None));
        let schema = Schema::new(vec![Field::new("_id", DataType::Utf8, false)]);
        let items = [4i64, 9].map(|i| lit(ScalarValue::Int64(Some(i)))).to_vec();
        let list: Arc<dyn PhysicalExpr> =
            Arc::new(InListExpr::try_new(cast, items, false, &schema).unwrap());
        let narrowing = to_filter(&shape(), &[list]).expect("a filter");
        assert!(narrowing.assumes_no_string_ids);
        let text = format!("{:?}", narrowing.filter);
        assert!(text.contains("Int(4)") && text.contains("Int(9)"), "{text}");
    }

    #[test]
    fn a_partitioned_joins_case_becomes_one_id_list() {
        let hash: Arc<dyn PhysicalExpr> = col("n", 1);
        let branch = |ids: &[&str]| and(lit(true), in_list(col("_id", 0), ids));
        let case: Arc<dyn PhysicalExpr> = Arc::new(
            CaseExpr::try_new(
                Some(hash),
                vec![
                    (lit(ScalarValue::Int64(Some(0))), branch(&["3", "5"])),
                    (lit(ScalarValue::Int64(Some(1))), branch(&["4"])),
                ],
                Some(lit(false)),
            )
            .unwrap(),
        );
        let narrowing = to_filter(&shape(), &[case]).expect("a filter");
        let text = format!("{:?}", narrowing.filter);
        assert!(!text.contains("Or("), "{text}");
        for id in ["Int(3)", "Int(4)", "Int(5)"] {
            assert!(text.contains(id), "{text}");
        }
    }

    #[test]
    fn a_translatable_conjunct_survives_beside_one_that_does_not() {
        let cast: Arc<dyn PhysicalExpr> =
            Arc::new(datafusion::physical_expr::expressions::CastExpr::new(
                col("n", 1),
                DataType::Utf8,
                None,
            ));
        let odd = Arc::new(BinaryExpr::new(
            cast,
            Operator::Eq,
            lit(ScalarValue::Utf8(Some("3".into()))),
        ));
        let keep = Arc::new(BinaryExpr::new(
            col("n", 1),
            Operator::Gt,
            lit(ScalarValue::Int64(Some(3))),
        ));
        let narrowing = to_filter(&shape(), &[and(odd, keep)]).expect("a filter");
        let text = format!("{:?}", narrowing.filter);
        assert!(text.contains("Int(3)") && !text.contains("\"3\""), "{text}");
    }
}
