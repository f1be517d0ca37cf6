//! Expressions: the values a `$project`, `$addFields` or `$group` computes from a document.
//!
//! The language is deliberately small: field references (`"$a.b"`), the whole document
//! (`"$$ROOT"`), constants (`{"$literal": v}`, or any other non-operator value), and objects
//! and arrays built from expressions. Evaluation never fails: a reference to a missing field
//! evaluates to "missing" (`None`), which each consumer treats as MongoDB does (a computed
//! field is left out, a group key becomes null, most accumulators skip it).

use cairn_doc::{FieldPath, Object, Value};

use crate::error::{QueryError, Result};
use crate::limits::MAX_EXPRESSION_DEPTH;

/// An expression over one document.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// The value at a field path (`"$a.b"`). On an array it fans out over the elements
    /// (`"$items.price"` is the list of prices); a numeric segment indexes an array.
    Field(FieldPath),
    /// The whole document (`"$$ROOT"`).
    Root,
    /// A constant.
    Literal(Value),
    /// An object whose fields are expressions; fields that evaluate to missing are left out.
    Object(Vec<(String, Expr)>),
    /// An array whose elements are expressions; missing elements become null.
    Array(Vec<Expr>),
}

impl Expr {
    /// A field reference to `path` (written without the leading `$`, e.g. `"price"`).
    pub fn field(path: &str) -> Result<Expr> {
        let parsed =
            FieldPath::parse(path).map_err(|err| QueryError::invalid(path, err.to_string()))?;
        Ok(Expr::Field(parsed))
    }

    /// A constant.
    pub fn literal(value: impl Into<Value>) -> Expr {
        Expr::Literal(value.into())
    }

    /// Parses an expression; `at` names its place for errors.
    pub fn parse(json: &Value, at: &str) -> Result<Expr> {
        parse_at_depth(json, at, 0)
    }

    /// Evaluates the expression on `doc`; `None` means missing.
    pub fn eval(&self, doc: &Value) -> Option<Value> {
        match self {
            Expr::Field(path) => resolve(path.segments(), doc),
            Expr::Root => Some(doc.clone()),
            Expr::Literal(value) => Some(value.clone()),
            Expr::Object(fields) => Some(Value::Object(
                fields
                    .iter()
                    .filter_map(|(name, expr)| expr.eval(doc).map(|value| (name.clone(), value)))
                    .collect(),
            )),
            Expr::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .map(|item| item.eval(doc).unwrap_or(Value::Null))
                    .collect(),
            )),
        }
    }
}

fn parse_at_depth(json: &Value, at: &str, depth: usize) -> Result<Expr> {
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(QueryError::invalid(
            at,
            format!("nested deeper than {MAX_EXPRESSION_DEPTH} levels"),
        ));
    }
    match json {
        Value::String(text) => parse_reference(text, at),
        Value::Object(object) => parse_object(object, at, depth),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_at_depth(item, &format!("{at}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>>>()
            .map(Expr::Array),
        other => Ok(Expr::Literal(other.clone())),
    }
}

/// `"$path"` is a field reference, `"$$ROOT"` the document; other strings are constants.
fn parse_reference(text: &str, at: &str) -> Result<Expr> {
    if text == "$$ROOT" || text == "$$CURRENT" {
        return Ok(Expr::Root);
    }
    if text.starts_with("$$") {
        return Err(QueryError::invalid(
            at,
            format!("unknown variable `{text}`; only $$ROOT is supported"),
        ));
    }
    match text.strip_prefix('$') {
        Some(path) => {
            let parsed =
                FieldPath::parse(path).map_err(|err| QueryError::invalid(at, err.to_string()))?;
            Ok(Expr::Field(parsed))
        }
        None => Ok(Expr::Literal(Value::String(text.to_owned()))),
    }
}

fn parse_object(object: &Object, at: &str, depth: usize) -> Result<Expr> {
    if let Some(operator) = object.keys().find(|key| key.starts_with('$')) {
        let here = format!("{at}.{operator}");
        return match (operator, object.len()) {
            ("$literal", 1) => Ok(Expr::Literal(object.get(operator).cloned().unwrap_or(Value::Null))),
            ("$literal", _) => Err(QueryError::invalid(here, "`$literal` must be the only field of its object")),
            _ => Err(QueryError::invalid(
                here,
                "unknown expression operator; expressions are \"$field\" references, {\"$literal\": value}, \
                 or objects and arrays of those",
            )),
        };
    }
    let mut fields = Vec::with_capacity(object.len());
    for (name, value) in object.iter() {
        let here = format!("{at}.{name}");
        if name.is_empty() || name.contains('.') {
            return Err(QueryError::invalid(
                here,
                "a computed field name must be non-empty and contain no `.`",
            ));
        }
        fields.push((name.to_owned(), parse_at_depth(value, &here, depth + 1)?));
    }
    Ok(Expr::Object(fields))
}

/// The value `segments` reach in `value`: objects by field name, arrays by a numeric segment
/// or else fanned out over their elements (elements reaching nothing are left out).
fn resolve(segments: &[String], value: &Value) -> Option<Value> {
    let Some((first, rest)) = segments.split_first() else {
        return Some(value.clone());
    };
    match value {
        Value::Object(object) => resolve(rest, object.get(first)?),
        Value::Array(items) => match first.parse::<usize>() {
            Ok(index) => resolve(rest, items.get(index)?),
            Err(_) => Some(Value::Array(
                items
                    .iter()
                    .filter_map(|item| resolve(segments, item))
                    .collect(),
            )),
        },
        _ => None,
    }
}

/// Writes `value` at `segments` inside `object`, creating (or replacing non-object values
/// with) intermediate objects.
pub(super) fn set_path(object: &mut Object, segments: &[String], value: Value) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        object.insert(first.clone(), value);
        return;
    }
    if !matches!(object.get(first), Some(Value::Object(_))) {
        object.insert(first.clone(), Value::Object(Object::new()));
    }
    if let Some(Value::Object(inner)) = object.get_mut(first) {
        set_path(inner, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        Value::from_json_expression(text).unwrap()
    }

    fn eval(expr: &str, doc: &str) -> Option<Value> {
        Expr::parse(&json(expr), "e").unwrap().eval(&json(doc))
    }

    #[test]
    fn field_references_walk_objects_and_fan_out_over_arrays() {
        assert_eq!(eval(r#""$a.b""#, r#"{"a": {"b": 1}}"#), Some(Value::Int(1)));
        assert_eq!(
            eval(r#""$a.b""#, r#"{"a": [{"b": 1}, {"c": 2}, {"b": 3}]}"#),
            Some(json("[1, 3]"))
        );
        assert_eq!(eval(r#""$a.1""#, r#"{"a": [5, 6]}"#), Some(Value::Int(6)));
        assert_eq!(eval(r#""$a.b""#, r#"{"a": 5}"#), None);
        assert_eq!(eval(r#""$missing""#, r#"{"a": 5}"#), None);
    }

    #[test]
    fn literals_objects_and_arrays_evaluate_structurally() {
        assert_eq!(
            eval(r#"{"$literal": "$a"}"#, r#"{"a": 1}"#),
            Some(json(r#""$a""#))
        );
        assert_eq!(eval(r#""text""#, "{}"), Some(json(r#""text""#)));
        assert_eq!(
            eval(r#"{"x": "$a", "y": "$nope"}"#, r#"{"a": 1}"#),
            Some(json(r#"{"x": 1}"#))
        );
        assert_eq!(
            eval(r#"["$a", "$nope", 2]"#, r#"{"a": 1}"#),
            Some(json("[1, null, 2]"))
        );
        assert_eq!(
            eval(r#""$$ROOT""#, r#"{"a": 1}"#),
            Some(json(r#"{"a": 1}"#))
        );
    }

    #[test]
    fn malformed_expressions_name_their_place() {
        for (bad, place) in [
            (r#"{"$add": [1, 2]}"#, "e.$add"),
            (r#"{"$literal": 1, "x": 2}"#, "e.$literal"),
            (r#""$$NOW""#, "e"),
            (r#""$a..b""#, "e"),
            (r#"{"x": {"a.b": 1}}"#, "e.x.a.b"),
        ] {
            match Expr::parse(&json(bad), "e") {
                Err(QueryError::Invalid { at, .. }) => assert_eq!(at, place, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn set_path_creates_intermediate_objects() {
        let mut object = Object::new();
        object.insert("a", 1);
        let path = FieldPath::parse("a.b.c").unwrap();
        set_path(&mut object, path.segments(), Value::Int(2));
        assert_eq!(Value::Object(object), json(r#"{"a": {"b": {"c": 2}}}"#));
    }
}
