//! Projections: which fields a query returns.

use cairn_doc::{FieldPath, Object, Value};

use crate::error::{QueryError, Result};

/// Fields to include or to exclude (not both, except that `_id` may be excluded from an
/// inclusion). `_id` is returned unless excluded explicitly.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    paths: Vec<FieldPath>,
    include: bool,
    keep_id: bool,
}

impl Projection {
    /// Parses `{"a": 1, "b.c": 1}` (inclusion) or `{"a": 0}` (exclusion).
    pub fn parse(json: &Value) -> Result<Projection> {
        let object = json
            .as_object()
            .ok_or_else(|| QueryError::invalid("projection", "expects an object"))?;
        let mut paths = Vec::new();
        let mut include = None;
        let mut keep_id = true;
        let mut id_included = false;
        for (key, flag) in object.iter() {
            let place = format!("projection.{key}");
            let on = match flag {
                Value::Bool(b) => *b,
                Value::Int(1) => true,
                Value::Int(0) => false,
                _ => return Err(QueryError::invalid(&place, "expects 1, 0, true or false")),
            };
            if key == "_id" {
                keep_id = on;
                id_included = on;
                continue;
            }
            if include.is_some_and(|inc| inc != on) {
                return Err(QueryError::invalid(
                    &place,
                    "cannot mix inclusion and exclusion",
                ));
            }
            include = Some(on);
            paths.push(
                FieldPath::parse(key)
                    .map_err(|err| QueryError::invalid(&place, err.to_string()))?,
            );
        }
        Ok(Projection {
            paths,
            // `{"_id": 1}` alone includes only `_id` (`{"_id": 0}` alone excludes it).
            include: include.unwrap_or(id_included),
            keep_id,
        })
    }

    /// Whether the projection keeps only `_id` (`{"_id": 1}`): a query can then answer from
    /// document keys without reading the documents, when its filter is decided without them.
    pub fn keeps_only_id(&self) -> bool {
        self.include && self.paths.is_empty() && self.keep_id
    }

    /// Applies the projection to a document.
    pub fn apply(&self, doc: Value) -> Value {
        let Value::Object(mut object) = doc else {
            return doc;
        };
        let id = object.get("_id").cloned();
        let mut out = if self.include {
            let mut out = Object::new();
            let source = Value::Object(object);
            for path in &self.paths {
                copy_path(&source, path.segments(), &mut out);
            }
            out
        } else {
            for path in &self.paths {
                remove_path(&mut object, path.segments());
            }
            object
        };
        match (self.keep_id, id) {
            (true, Some(id)) if self.include => {
                let mut with = Object::with_capacity(out.len() + 1);
                with.insert("_id", id);
                for (k, v) in out.iter() {
                    with.insert(k, v.clone());
                }
                out = with;
            }
            (false, _) => {
                out.remove("_id");
            }
            _ => {}
        }
        Value::Object(out)
    }
}

fn copy_path(source: &Value, segments: &[String], out: &mut Object) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let Some(value) = source.as_object().and_then(|o| o.get(first)) else {
        return;
    };
    if rest.is_empty() {
        out.insert(first.clone(), value.clone());
        return;
    }
    match value {
        Value::Object(_) => {
            let mut inner = match out.get(first) {
                Some(Value::Object(existing)) => existing.clone(),
                _ => Object::new(),
            };
            copy_path(value, rest, &mut inner);
            if !inner.is_empty() {
                out.insert(first.clone(), Value::Object(inner));
            }
        }
        Value::Array(items) => {
            // Project inside each object element, as `a.b` reaches into arrays of objects.
            let projected: Vec<Value> = items
                .iter()
                .filter(|item| matches!(item, Value::Object(_)))
                .map(|item| {
                    let mut inner = Object::new();
                    copy_path(item, rest, &mut inner);
                    Value::Object(inner)
                })
                .collect();
            out.insert(first.clone(), Value::Array(projected));
        }
        _ => {}
    }
}

fn remove_path(object: &mut Object, segments: &[String]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        object.remove(first);
        return;
    }
    match object.get_mut(first) {
        Some(Value::Object(inner)) => remove_path(inner, rest),
        Some(Value::Array(items)) => {
            for item in items {
                if let Value::Object(inner) = item {
                    remove_path(inner, rest);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(projection: &str, doc: &str) -> String {
        let projection = Value::from_json_expression(projection).map(|v| Projection::parse(&v));
        let projection = match projection {
            Ok(Ok(p)) => p,
            other => panic!("bad projection: {other:?}"),
        };
        let doc = Value::from_json_str(doc).unwrap_or(Value::Null);
        projection.apply(doc).to_json_string()
    }

    #[test]
    fn id_alone_keeps_only_the_id_or_drops_it() {
        let doc = r#"{"_id": 1, "a": 2, "b": {"c": 3}}"#;
        assert_eq!(apply(r#"{"_id": 1}"#, doc), r#"{"_id":1}"#);
        assert_eq!(apply(r#"{"_id": 0}"#, doc), r#"{"a":2,"b":{"c":3}}"#);
        assert_eq!(apply(r#"{"a": 1}"#, doc), r#"{"_id":1,"a":2}"#);
        assert_eq!(
            apply(r#"{"a": 1, "b.c": 1, "_id": 0}"#, doc),
            r#"{"a":2,"b":{"c":3}}"#
        );
        assert_eq!(apply(r#"{"a": 0}"#, doc), r#"{"_id":1,"b":{"c":3}}"#);
        assert_eq!(apply("{}", doc), r#"{"_id":1,"a":2,"b":{"c":3}}"#);
    }

    #[test]
    fn only_an_id_inclusion_keeps_only_the_id() {
        let parse = |text: &str| {
            Value::from_json_str(text)
                .ok()
                .and_then(|v| Projection::parse(&v).ok())
                .map(|p| p.keeps_only_id())
        };
        assert_eq!(parse(r#"{"_id": 1}"#), Some(true));
        assert_eq!(parse(r#"{"_id": true}"#), Some(true));
        for other in [r#"{"_id": 0}"#, r#"{"a": 1}"#, r#"{"a": 0}"#, "{}"] {
            assert_eq!(parse(other), Some(false), "{other}");
        }
    }
}
