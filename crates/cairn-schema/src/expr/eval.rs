//! Evaluation of the expression language over one document (see the module docs for the
//! semantics). Pure: reads the document, allocates only for computed values.

use std::borrow::Cow;
use std::cmp::Ordering;

use cairn_doc::Value;

use super::{BinOp, Func, Node};
use crate::limits::MAX_EXPR_STRING_BYTES;

/// Why an expression could not be evaluated: a small, allocation-free value on the hot path,
/// turned into [`crate::SchemaError::Evaluation`] at the crate's surface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum EvalError {
    /// An operator or function got a value of the wrong type.
    Type {
        /// The operator or function.
        op: &'static str,
        /// The type it got.
        found: &'static str,
    },
    /// Integer overflow or division by zero.
    Arithmetic {
        /// The operator.
        op: &'static str,
    },
    /// A string grew past `MAX_EXPR_STRING_BYTES`.
    StringTooLong,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Type { op, found } => write!(f, "`{op}` cannot take {found}"),
            EvalError::Arithmetic { op } => write!(f, "arithmetic error in `{op}`"),
            EvalError::StringTooLong => write!(
                f,
                "a string built by the expression exceeds {MAX_EXPR_STRING_BYTES} bytes"
            ),
        }
    }
}

type Eval<'d> = Result<Cow<'d, Value>, EvalError>;

const NULL: Value = Value::Null;

/// Evaluates `node`; literals are borrowed from the tree, fields from the document.
pub(super) fn eval<'d>(node: &'d Node, doc: &'d Value) -> Eval<'d> {
    match node {
        Node::Literal(value) => Ok(Cow::Borrowed(value)),
        Node::Field(name) => Ok(Cow::Borrowed(
            doc.as_object().and_then(|o| o.get(name)).unwrap_or(&NULL),
        )),
        Node::Member(inner, name) => Ok(member(eval(inner, doc)?, |v| {
            v.as_object().and_then(|o| o.get(name))
        })),
        Node::Index(inner, index) => {
            let index = eval(index, doc)?;
            let index = index.as_ref();
            Ok(member(eval(inner, doc)?, |v| match (v, index) {
                (Value::Array(items), Value::Int(i)) => {
                    usize::try_from(*i).ok().and_then(|i| items.get(i))
                }
                (Value::Object(obj), Value::String(key)) => obj.get(key),
                _ => None,
            }))
        }
        Node::Not(inner) => Ok(Cow::Owned(Value::Bool(!boolean(
            eval(inner, doc)?.as_ref(),
            "!",
        )?))),
        Node::Neg(inner) => match eval(inner, doc)?.as_ref() {
            Value::Int(i) => i
                .checked_neg()
                .map(|n| Cow::Owned(Value::Int(n)))
                .ok_or(EvalError::Arithmetic { op: "-" }),
            Value::Float(f) => Ok(Cow::Owned(Value::Float(-f))),
            other => Err(EvalError::Type {
                op: "-",
                found: other.type_name(),
            }),
        },
        Node::Binary(BinOp::And, a, b) => {
            let value =
                boolean(eval(a, doc)?.as_ref(), "&&")? && boolean(eval(b, doc)?.as_ref(), "&&")?;
            Ok(Cow::Owned(Value::Bool(value)))
        }
        Node::Binary(BinOp::Or, a, b) => {
            let value =
                boolean(eval(a, doc)?.as_ref(), "||")? || boolean(eval(b, doc)?.as_ref(), "||")?;
            Ok(Cow::Owned(Value::Bool(value)))
        }
        Node::Binary(op, a, b) => {
            let (a, b) = (eval(a, doc)?, eval(b, doc)?);
            binary(*op, a.as_ref(), b.as_ref()).map(Cow::Owned)
        }
        Node::Call(func, args) => {
            // Functions take one or two arguments (checked by the parser): no list allocated.
            let first = match args.first() {
                Some(arg) => eval(arg, doc)?,
                None => Cow::Borrowed(&NULL),
            };
            let second = match args.get(1) {
                Some(arg) => eval(arg, doc)?,
                None => Cow::Borrowed(&NULL),
            };
            call(*func, first.as_ref(), second.as_ref()).map(Cow::Owned)
        }
    }
}

/// Steps into a borrowed or owned value; a missing step is null.
fn member<'d>(base: Cow<'d, Value>, step: impl Fn(&Value) -> Option<&Value>) -> Cow<'d, Value> {
    match base {
        Cow::Borrowed(value) => Cow::Borrowed(step(value).unwrap_or(&NULL)),
        Cow::Owned(value) => Cow::Owned(step(&value).cloned().unwrap_or(Value::Null)),
    }
}

fn boolean(value: &Value, op: &'static str) -> Result<bool, EvalError> {
    value.as_bool().ok_or(EvalError::Type {
        op,
        found: value.type_name(),
    })
}

/// Order of two values where one is defined (numbers, strings, datetimes).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    let compare = |want: fn(Ordering) -> bool| Value::Bool(order(a, b).is_some_and(want));
    Ok(match op {
        BinOp::Eq => Value::Bool(cairn_doc::values_equal(a, b)),
        BinOp::Ne => Value::Bool(!cairn_doc::values_equal(a, b)),
        BinOp::Lt => compare(Ordering::is_lt),
        BinOp::Le => compare(Ordering::is_le),
        BinOp::Gt => compare(Ordering::is_gt),
        BinOp::Ge => compare(Ordering::is_ge),
        BinOp::Add => match (a, b) {
            (Value::String(x), Value::String(y)) => {
                if x.len() + y.len() > MAX_EXPR_STRING_BYTES {
                    return Err(EvalError::StringTooLong);
                }
                Value::String(format!("{x}{y}"))
            }
            _ => arithmetic("+", a, b, i64::checked_add, |x, y| x + y)?,
        },
        BinOp::Sub => arithmetic("-", a, b, i64::checked_sub, |x, y| x - y)?,
        BinOp::Mul => arithmetic("*", a, b, i64::checked_mul, |x, y| x * y)?,
        BinOp::Rem => arithmetic("%", a, b, i64::checked_rem, |x, y| x % y)?,
        BinOp::Div => {
            let (x, y) = numbers("/", a, b)?;
            if y == 0.0 {
                return Err(EvalError::Arithmetic { op: "/" });
            }
            finite("/", x / y)?
        }
        BinOp::And | BinOp::Or => unreachable_logic(op)?,
    })
}

/// `&&`/`||` are evaluated lazily in `eval`; reaching here is an internal inconsistency,
/// reported as a type error rather than a panic.
fn unreachable_logic(op: BinOp) -> Result<Value, EvalError> {
    debug_assert!(false, "logical operator {op:?} evaluated eagerly");
    Err(EvalError::Type {
        op: "&&",
        found: "operands",
    })
}

fn numbers(op: &'static str, a: &Value, b: &Value) -> Result<(f64, f64), EvalError> {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Ok((x, y)),
        (None, _) => Err(EvalError::Type {
            op,
            found: a.type_name(),
        }),
        (_, None) => Err(EvalError::Type {
            op,
            found: b.type_name(),
        }),
    }
}

fn finite(op: &'static str, x: f64) -> Result<Value, EvalError> {
    if x.is_finite() {
        Ok(Value::Float(x))
    } else {
        Err(EvalError::Arithmetic { op })
    }
}

fn arithmetic(
    op: &'static str,
    a: &Value,
    b: &Value,
    int: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> Result<Value, EvalError> {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        return int(*x, *y)
            .map(Value::Int)
            .ok_or(EvalError::Arithmetic { op });
    }
    let (x, y) = numbers(op, a, b)?;
    if op == "%" && y == 0.0 {
        return Err(EvalError::Arithmetic { op });
    }
    finite(op, float(x, y))
}

fn call(func: Func, x: &Value, y: &Value) -> Result<Value, EvalError> {
    Ok(match func {
        Func::Exists => Value::Bool(!x.is_null()),
        Func::Len => Value::Int(match x {
            Value::String(s) => s.chars().count(),
            Value::Array(items) => items.len(),
            Value::Object(obj) => obj.len(),
            Value::Bytes(b) => b.len(),
            Value::Vector(v) => v.dim(),
            other => {
                return Err(EvalError::Type {
                    op: "len",
                    found: other.type_name(),
                })
            }
        } as i64),
        Func::Abs => match x {
            Value::Int(i) => {
                Value::Int(i.checked_abs().ok_or(EvalError::Arithmetic { op: "abs" })?)
            }
            Value::Float(f) => Value::Float(f.abs()),
            other => {
                return Err(EvalError::Type {
                    op: "abs",
                    found: other.type_name(),
                })
            }
        },
        Func::Lower | Func::Upper => match x {
            Value::String(s) if func == Func::Lower => Value::String(s.to_lowercase()),
            Value::String(s) => Value::String(s.to_uppercase()),
            other => {
                return Err(EvalError::Type {
                    op: "lower/upper",
                    found: other.type_name(),
                })
            }
        },
        Func::Min | Func::Max => {
            let ordering = order(x, y).ok_or(EvalError::Type {
                op: "min/max",
                found: y.type_name(),
            })?;
            let first = if func == Func::Min {
                ordering.is_le()
            } else {
                ordering.is_ge()
            };
            if first {
                x.clone()
            } else {
                y.clone()
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::Expr;
    use cairn_doc::Value;

    #[test]
    fn issue_examples_evaluate() {
        let doc = r#"{"energy_in": 10, "energy_out": 7.5, "steps": [{"kind": "axiom"}, {"kind": "lemma"}]}"#;
        let ok = |s: &str| {
            let doc = Value::from_json_str(doc).unwrap_or(Value::Null);
            Expr::parse(s).ok().and_then(|e| e.holds(&doc).ok())
        };
        assert_eq!(ok("energy_out <= energy_in"), Some(true));
        assert_eq!(ok("energy_out > energy_in"), Some(false));
        assert_eq!(
            ok(r#"len(steps) > 0 && steps[0].kind == "axiom""#),
            Some(true)
        );
        assert_eq!(
            ok(r#"steps[1]["kind"] == 'lemma' && !exists(missing)"#),
            Some(true)
        );
        assert_eq!(ok("(energy_in - energy_out) * 2 == 5"), Some(true));
        assert_eq!(ok("missing < 3"), Some(false));
        assert_eq!(
            ok("energy_in / 4 == 2.5 && energy_in % 3 == 1 && -energy_in == -10"),
            Some(true)
        );
        assert_eq!(
            ok("max(energy_in, energy_out) == 10 && abs(-2) == 2 && upper('a') + 'b' == 'Ab'"),
            Some(true)
        );
    }

    #[test]
    fn evaluation_errors_are_values() {
        let doc =
            Value::from_json_str(r#"{"a": "x", "n": 9223372036854775807}"#).unwrap_or(Value::Null);
        for source in [
            "a && true",
            "n + 1 > 0",
            "1 / 0 > 0",
            "len(n) > 0",
            "-a == 1",
        ] {
            let expr = Expr::parse(source);
            assert!(
                matches!(expr.map(|e| e.holds(&doc).is_err()), Ok(true)),
                "{source}"
            );
        }
    }

    #[test]
    fn parser_rejects_bad_and_oversized_expressions() {
        for source in [
            "a <",
            "a < b < c",
            "f(x)",
            "len(a, b)",
            "a.",
            "'open",
            "a $ b",
            "((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))",
        ] {
            assert!(Expr::parse(source).is_err(), "{source}");
        }
        let long = vec!["a"; 300].join(" + ");
        assert!(Expr::parse(&long).is_err());
    }

    #[test]
    fn failing_rules_describe_the_values_they_read() {
        let doc =
            Value::from_json_str(r#"{"energy_in": 1, "energy_out": 2}"#).unwrap_or(Value::Null);
        let expr = Expr::parse("energy_out <= energy_in && len(steps) > 0");
        let text = expr.map(|e| e.describe_values(&doc)).unwrap_or_default();
        assert_eq!(text, "energy_out = 2, energy_in = 1, steps = null");
    }
}
