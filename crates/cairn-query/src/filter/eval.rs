//! Evaluating filters against documents (the semantics are in `semantics.md`).

use std::cmp::Ordering;

use cairn_doc::{values_equal, Value};
use cairn_index::keys::{bracket, compare};
use cairn_index::path_values;

use super::{ElemCondition, Filter, Op};

pub(super) fn matches(filter: &Filter, doc: &Value) -> bool {
    match filter {
        Filter::All => true,
        Filter::And(filters) => filters.iter().all(|f| matches(f, doc)),
        Filter::Or(filters) => filters.iter().any(|f| matches(f, doc)),
        Filter::Nor(filters) => !filters.iter().any(|f| matches(f, doc)),
        Filter::Field(path, ops) => {
            let mut reached = Vec::new();
            path_values::collect(path, doc, &mut reached);
            ops.iter().all(|op| op_holds(op, &reached))
        }
    }
}

/// Calls `visit` on each value a comparison looks at: every reached value, and the elements
/// of reached arrays. Stops when `visit` returns true; returns whether it did.
fn any_expanded(reached: &[&Value], mut visit: impl FnMut(&Value) -> bool) -> bool {
    reached.iter().any(|value| {
        visit(value)
            || match value {
                Value::Array(items) => items.iter().any(&mut visit),
                _ => false,
            }
    })
}

fn equals(reached: &[&Value], operand: &Value) -> bool {
    if operand.is_null() && reached.is_empty() {
        return true;
    }
    any_expanded(reached, |v| values_equal(v, operand))
}

fn compares(reached: &[&Value], operand: &Value, accept: fn(Ordering) -> bool) -> bool {
    if operand.is_null() {
        // Only null equals null: `$gte`/`$lte` null act as equality, `$gt`/`$lt` match nothing.
        return accept(Ordering::Equal) && equals(reached, operand);
    }
    let wanted = bracket(operand);
    any_expanded(reached, |v| {
        bracket(v) == wanted && accept(compare(v, operand))
    })
}

fn type_matches(value: &Value, names: &[&str]) -> bool {
    let name = value.type_name();
    names.iter().any(|wanted| {
        *wanted == name || (*wanted == "number" && matches!(value, Value::Int(_) | Value::Float(_)))
    })
}

pub(super) fn op_holds(op: &Op, reached: &[&Value]) -> bool {
    match op {
        Op::Eq(v) => equals(reached, v),
        Op::Ne(v) => !equals(reached, v),
        Op::Gt(v) => compares(reached, v, Ordering::is_gt),
        Op::Gte(v) => compares(reached, v, Ordering::is_ge),
        Op::Lt(v) => compares(reached, v, Ordering::is_lt),
        Op::Lte(v) => compares(reached, v, Ordering::is_le),
        Op::In(values) => values.iter().any(|v| equals(reached, v)),
        Op::Nin(values) => !values.iter().any(|v| equals(reached, v)),
        Op::Exists(present) => reached.is_empty() != *present,
        Op::Type(names) => any_expanded(reached, |v| type_matches(v, names)),
        Op::Regex(regex) => {
            any_expanded(reached, |v| v.as_str().is_some_and(|s| regex.is_match(s)))
        }
        Op::All(values) => !values.is_empty() && values.iter().all(|v| equals(reached, v)),
        Op::ElemMatch(condition) => reached.iter().any(|value| {
            value.as_array().is_some_and(|items| {
                items.iter().any(|item| match condition.as_ref() {
                    ElemCondition::Ops(ops) => ops.iter().all(|op| op_holds(op, &[item])),
                    ElemCondition::Filter(filter) => {
                        matches!(item, Value::Object(_)) && matches(filter, item)
                    }
                })
            })
        }),
        Op::Size(n) => reached
            .iter()
            .any(|value| value.as_array().is_some_and(|items| items.len() == *n)),
        Op::Not(ops) => !ops.iter().all(|op| op_holds(op, reached)),
        Op::Registered(op) => any_expanded(reached, |v| op.holds(v)),
    }
}
