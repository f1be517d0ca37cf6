//! A document's *shape*: the set of (field path, type) facts it contributes to the
//! statistics.
//!
//! Paths: an object field is `parent.name` (field names never contain `.`), the elements of
//! an array are `parent[]`, so `items[].sku` is the `sku` field of objects inside the `items`
//! array. Types are the value type names (`string`, `int`, `float`, `bool`, `null`, `bytes`,
//! `datetime`, `uuid`, `object`, `array`) and `vector<DIM>` for vectors.
//!
//! A document contributes each fact **once**, however many array elements repeat it, so a
//! path's count is "documents in which it appears" and removing a document subtracts exactly
//! what adding it added.

use std::collections::{BTreeMap, BTreeSet};

use cairn_doc::Value;

use crate::limits::MAX_INFER_DEPTH;

/// Path → the types seen there in one document.
pub type Shape = BTreeMap<String, BTreeSet<String>>;

/// The shape of a document (its root object's fields; `_id` included).
pub fn shape(doc: &Value) -> Shape {
    let mut out = Shape::new();
    if let Value::Object(obj) = doc {
        for (name, value) in obj.iter() {
            visit(name.to_string(), value, 1, &mut out);
        }
    }
    out
}

/// The type name recorded for a value.
pub fn type_label(value: &Value) -> String {
    match value {
        Value::Vector(vector) => format!("vector<{}>", vector.dim()),
        other => other.type_name().to_string(),
    }
}

fn visit(path: String, value: &Value, depth: usize, out: &mut Shape) {
    out.entry(path.clone())
        .or_default()
        .insert(type_label(value));
    if depth >= MAX_INFER_DEPTH {
        return;
    }
    match value {
        Value::Object(obj) => {
            for (name, inner) in obj.iter() {
                visit(format!("{path}.{name}"), inner, depth + 1, out);
            }
        }
        Value::Array(items) => {
            let element = format!("{path}[]");
            for item in items {
                visit(element.clone(), item, depth + 1, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_and_arrays_become_paths_counted_once_per_document() {
        let doc = Value::from_json_str(
            r#"{"_id": 1, "name": "a", "tags": ["x", "y", 3],
                "items": [{"sku": "s1", "qty": 2}, {"sku": "s2"}], "meta": {"ok": true, "n": null}}"#,
        )
        .unwrap();
        let shape = shape(&doc);
        let types = |path: &str| -> Vec<&str> { shape[path].iter().map(String::as_str).collect() };
        assert_eq!(types("_id"), ["int"]);
        assert_eq!(types("tags"), ["array"]);
        assert_eq!(types("tags[]"), ["int", "string"]);
        assert_eq!(types("items[]"), ["object"]);
        assert_eq!(types("items[].sku"), ["string"]);
        assert_eq!(types("items[].qty"), ["int"]);
        assert_eq!(types("meta.ok"), ["bool"]);
        assert_eq!(types("meta.n"), ["null"]);
        assert_eq!(shape.len(), 11);
    }
}
