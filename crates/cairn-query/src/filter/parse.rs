//! Parsing JSON filter documents into [`Filter`]s, with limits on size and nesting.

use cairn_doc::{FieldPath, Object, Value};
use regex::RegexBuilder;

use super::{ElemCondition, Filter, Op, TypeName};
use crate::error::{QueryError, Result};
use crate::limits::{
    MAX_FILTER_DEPTH, MAX_IN_LIST, MAX_REGEX_COMPILED_BYTES, MAX_REGEX_PATTERN_BYTES,
};

/// Type names `$type` accepts (`number` means int or float).
pub const TYPE_NAMES: &[TypeName] = &[
    "null", "bool", "int", "float", "number", "string", "bytes", "array", "object", "datetime",
    "uuid", "vector", "geometry",
];

/// The path a top-level registered operator (`{"$text": ...}`) is held on: `_id`, which
/// every document has. Such an operator decides on the document as a whole through its access
/// method (a text index's postings); its [`crate::access::FieldOperator::holds`] sees the
/// `_id` and must not reject what the access method found.
pub const DOCUMENT_LEVEL_PATH: &str = "_id";

/// Parses a filter document such as `{"age": {"$gte": 18}, "$or": [{"a": 1}, {"b": 2}]}`.
/// Errors name the position of the problem.
pub fn parse_filter(json: &Value) -> Result<Filter> {
    parse_document(json, "", 0)
}

fn at(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn parse_document(json: &Value, place: &str, depth: usize) -> Result<Filter> {
    if depth > MAX_FILTER_DEPTH {
        return Err(QueryError::invalid(
            place,
            format!("nested deeper than {MAX_FILTER_DEPTH} levels"),
        ));
    }
    let object = json.as_object().ok_or_else(|| {
        QueryError::invalid(
            place,
            format!("a filter must be an object, found {}", json.type_name()),
        )
    })?;
    let mut parts = Vec::with_capacity(object.len());
    for (key, value) in object.iter() {
        let here = at(place, key);
        let part = match key {
            "$and" | "$or" | "$nor" => {
                let items = value
                    .as_array()
                    .filter(|items| !items.is_empty())
                    .ok_or_else(|| {
                        QueryError::invalid(&here, "expects a non-empty list of filters")
                    })?;
                let filters = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_document(item, &format!("{here}[{i}]"), depth + 1))
                    .collect::<Result<Vec<_>>>()?;
                match key {
                    "$and" => Filter::And(filters),
                    "$or" => Filter::Or(filters),
                    _ => Filter::Nor(filters),
                }
            }
            other if other.starts_with('$') => {
                match crate::access::parse_operator(other, value, &here) {
                    // A model's document-level operator (`$text`): held on `_id`, the one path
                    // every document has, so the evaluator offers it exactly once per document.
                    Some(op) => Filter::Field(
                        FieldPath::parse(DOCUMENT_LEVEL_PATH)
                            .map_err(|err| QueryError::invalid(&here, err.to_string()))?,
                        vec![Op::Registered(op?)],
                    ),
                    None => return Err(QueryError::invalid(&here, "unknown top-level operator")),
                }
            }
            path => {
                let field = FieldPath::parse(path)
                    .map_err(|err| QueryError::invalid(&here, err.to_string()))?;
                Filter::Field(field, parse_condition(value, &here, depth + 1)?)
            }
        };
        parts.push(part);
    }
    Ok(match parts.len() {
        0 => Filter::All,
        1 => parts.pop().unwrap_or(Filter::All),
        _ => Filter::And(parts),
    })
}

/// Whether an object is an operator expression (`{"$gt": 1}`) rather than a value.
fn is_operator_object(object: &Object) -> bool {
    object.keys().next().is_some_and(|k| k.starts_with('$'))
}

fn parse_condition(value: &Value, place: &str, depth: usize) -> Result<Vec<Op>> {
    match value {
        Value::Object(object) if is_operator_object(object) => parse_ops(object, place, depth),
        other => Ok(vec![Op::Eq(other.clone())]),
    }
}

fn parse_ops(object: &Object, place: &str, depth: usize) -> Result<Vec<Op>> {
    if depth > MAX_FILTER_DEPTH {
        return Err(QueryError::invalid(
            place,
            format!("nested deeper than {MAX_FILTER_DEPTH} levels"),
        ));
    }
    let options = object.get("$options");
    let mut ops = Vec::with_capacity(object.len());
    for (key, operand) in object.iter() {
        let here = at(place, key);
        let op = match key {
            "$eq" => Op::Eq(operand.clone()),
            "$ne" => Op::Ne(operand.clone()),
            "$gt" => Op::Gt(operand.clone()),
            "$gte" => Op::Gte(operand.clone()),
            "$lt" => Op::Lt(operand.clone()),
            "$lte" => Op::Lte(operand.clone()),
            "$in" => Op::In(list(operand, &here)?),
            "$nin" => Op::Nin(list(operand, &here)?),
            "$all" => Op::All(list(operand, &here)?),
            "$exists" => Op::Exists(match operand {
                Value::Bool(b) => *b,
                Value::Int(i) => *i != 0,
                _ => return Err(QueryError::invalid(&here, "expects true or false")),
            }),
            "$type" => Op::Type(type_names(operand, &here)?),
            "$regex" => Op::Regex(Box::new(regex(operand, options, &here)?)),
            "$options" => {
                if !object.contains_key("$regex") {
                    return Err(QueryError::invalid(&here, "$options needs $regex"));
                }
                continue;
            }
            "$size" => match operand {
                Value::Int(n) if *n >= 0 => Op::Size(*n as usize),
                _ => return Err(QueryError::invalid(&here, "expects a non-negative integer")),
            },
            "$elemMatch" => {
                let inner = operand
                    .as_object()
                    .ok_or_else(|| QueryError::invalid(&here, "expects an object"))?;
                let condition = if is_operator_object(inner) {
                    ElemCondition::Ops(parse_ops(inner, &here, depth + 1)?)
                } else {
                    ElemCondition::Filter(parse_document(operand, &here, depth + 1)?)
                };
                Op::ElemMatch(Box::new(condition))
            }
            "$not" => match operand {
                Value::Object(inner) if is_operator_object(inner) => {
                    Op::Not(parse_ops(inner, &here, depth + 1)?)
                }
                _ => {
                    return Err(QueryError::invalid(
                        &here,
                        "expects an operator object such as {\"$gt\": 5}",
                    ))
                }
            },
            // Not one of the language's own: a registered model may define it.
            other => match crate::access::parse_operator(other, operand, &here) {
                Some(parsed) => Op::Registered(parsed?),
                None => {
                    return Err(QueryError::invalid(
                        &here,
                        format!("unknown operator `{other}`"),
                    ))
                }
            },
        };
        ops.push(op);
    }
    Ok(ops)
}

fn list(operand: &Value, place: &str) -> Result<Vec<Value>> {
    let items = operand
        .as_array()
        .ok_or_else(|| QueryError::invalid(place, "expects a list"))?;
    if items.len() > MAX_IN_LIST {
        return Err(QueryError::invalid(
            place,
            format!("{} values; the limit is {MAX_IN_LIST}", items.len()),
        ));
    }
    Ok(items.clone())
}

fn type_names(operand: &Value, place: &str) -> Result<Vec<TypeName>> {
    let one = |v: &Value| -> Result<TypeName> {
        let name = v
            .as_str()
            .ok_or_else(|| QueryError::invalid(place, "expects a type name or a list of them"))?;
        TYPE_NAMES
            .iter()
            .find(|known| **known == name)
            .copied()
            .ok_or_else(|| {
                QueryError::invalid(
                    place,
                    format!("unknown type `{name}`; known: {}", TYPE_NAMES.join(", ")),
                )
            })
    };
    match operand {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn regex(operand: &Value, options: Option<&Value>, place: &str) -> Result<regex::Regex> {
    let pattern = operand
        .as_str()
        .ok_or_else(|| QueryError::invalid(place, "expects a pattern string"))?;
    if pattern.len() > MAX_REGEX_PATTERN_BYTES {
        return Err(QueryError::invalid(
            place,
            format!(
                "pattern of {} bytes; the limit is {MAX_REGEX_PATTERN_BYTES}",
                pattern.len()
            ),
        ));
    }
    let mut builder = RegexBuilder::new(pattern);
    builder.size_limit(MAX_REGEX_COMPILED_BYTES);
    if let Some(options) = options {
        let flags = options
            .as_str()
            .ok_or_else(|| QueryError::invalid(place, "$options expects a string"))?;
        for flag in flags.chars() {
            match flag {
                'i' => builder.case_insensitive(true),
                'm' => builder.multi_line(true),
                's' => builder.dot_matches_new_line(true),
                'x' => builder.ignore_whitespace(true),
                other => {
                    return Err(QueryError::invalid(
                        place,
                        format!("unknown regex option `{other}`"),
                    ))
                }
            };
        }
    }
    builder
        .build()
        .map_err(|err| QueryError::invalid(place, format!("bad pattern: {err}")))
}
