//! Turning inferred statistics into a schema document (JSON) in the field-type vocabulary of
//! Cairn schemas: `string int float bool datetime uuid bytes json array<T> object vector<DIM>`.
//!
//! The document is `{"fields": {NAME: FIELD, ...}}`, where each FIELD is an object with
//! * `"type"`: a type string; arrays are `array<T>` with `T` itself a type string (so
//!   `array<array<int>>`), vectors `vector<768>`, objects `object`;
//! * `"required": true` when the field appeared in every document (every object of its
//!   parent, for nested fields); omitted otherwise, and always omitted inside arrays, where
//!   per-document counts cannot tell;
//! * `"nullable": true` when the field was sometimes `null` (the type then describes the
//!   non-null values);
//! * `"fields"`: for `object`, and for arrays whose innermost elements are objects
//!   (`array<object>`), the fields of those objects, in the same form.
//!
//! Types: a single observed type maps to itself; `int` and `float` together become `float`
//! (an int widens to float); anything else mixed, or never seen with a non-null value, is
//! `json`; a vector seen with several dimensions is `json`. `_id` is left out (every
//! collection has it).

use cairn_doc::{Object, Value};

use crate::stats::InferredSchema;

/// The schema document for `schema` (see the module documentation for its form).
pub fn emit_schema(schema: &InferredSchema) -> Value {
    let mut root = Object::with_capacity(1);
    root.insert(
        "fields",
        Value::Object(children(schema, None, Some(schema.documents))),
    );
    Value::Object(root)
}

/// The fields directly under `parent` (`None`: the document root).
fn children(schema: &InferredSchema, parent: Option<&str>, parent_objects: Option<u64>) -> Object {
    let mut out = Object::new();
    for path in schema.fields.keys() {
        let name = match parent {
            None => path.as_str(),
            Some(parent) => match path.strip_prefix(parent).and_then(|r| r.strip_prefix('.')) {
                Some(rest) => rest,
                None => continue,
            },
        };
        if name.contains('.') || name.ends_with("[]") || (parent.is_none() && name == "_id") {
            continue;
        }
        out.insert(
            name.to_string(),
            Value::Object(describe(schema, path, parent_objects)),
        );
    }
    out
}

/// One field's spec.
fn describe(schema: &InferredSchema, path: &str, parent_objects: Option<u64>) -> Object {
    let mut spec = Object::new();
    let Some(stats) = schema.fields.get(path) else {
        spec.insert("type", Value::String("json".to_string()));
        return spec;
    };
    let non_null: Vec<&str> = stats
        .types
        .keys()
        .map(String::as_str)
        .filter(|label| *label != "null")
        .collect();
    let in_array = path.contains("[]");
    let (type_name, fields) = match non_null.as_slice() {
        ["object"] => {
            let objects = if in_array {
                None
            } else {
                stats.types.get("object").copied()
            };
            (
                "object".to_string(),
                Some(children(schema, Some(path), objects)),
            )
        }
        ["array"] => {
            let element = describe(schema, &format!("{path}[]"), None);
            let inner = element
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("json")
                .to_string();
            let fields = element.get("fields").and_then(Value::as_object).cloned();
            (format!("array<{inner}>"), fields)
        }
        ["float"] | ["float", "int"] => ("float".to_string(), None),
        [single] => (single.to_string(), None),
        _ => ("json".to_string(), None),
    };
    spec.insert("type", Value::String(type_name));
    if !in_array && parent_objects == Some(stats.documents) && stats.documents > 0 {
        spec.insert("required", Value::Bool(true));
    }
    if stats.types.contains_key("null") && !non_null.is_empty() {
        spec.insert("nullable", Value::Bool(true));
    }
    if let Some(fields) = fields {
        spec.insert("fields", Value::Object(fields));
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emitted_schema_uses_the_schema_vocabulary() {
        let docs: Vec<Value> = [
            r#"{"_id": 1, "name": "a", "n": 1, "tags": ["x"], "addr": {"city": "c", "zip": 1},
                "items": [{"sku": "s"}], "any": 1, "maybe": null, "grid": [[1, 2]]}"#,
            r#"{"_id": 2, "name": "b", "n": 2.5, "tags": [], "addr": {"city": "d"},
                "items": [], "any": "x", "maybe": "y"}"#,
        ]
        .iter()
        .map(|json| Value::from_json_str(json).unwrap())
        .collect();
        let schema = InferredSchema::from_documents(&docs);
        let emitted = emit_schema(&schema).to_json_string();
        let expected = Value::from_json_str(
            r#"{"fields": {
                "addr": {"type": "object", "required": true, "fields": {
                    "city": {"type": "string", "required": true}, "zip": {"type": "int"}}},
                "any": {"type": "json", "required": true},
                "grid": {"type": "array<array<int>>"},
                "items": {"type": "array<object>", "required": true,
                          "fields": {"sku": {"type": "string"}}},
                "maybe": {"type": "string", "required": true, "nullable": true},
                "n": {"type": "float", "required": true},
                "name": {"type": "string", "required": true},
                "tags": {"type": "array<string>", "required": true}}}"#,
        )
        .unwrap()
        .to_json_string();
        assert_eq!(emitted, expected);
    }
}
