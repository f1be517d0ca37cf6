//! Which values a field path reaches in a document: the one definition shared by index
//! maintenance and query evaluation, so an index holds exactly what a filter looks at.
//!
//! A path walks objects by field name. When it meets an array before its last segment it
//! either indexes the array (a numeric segment such as `a.0`) or fans out over the elements
//! (`a.b` on `{"a": [{"b": 1}, {"b": 2}]}` reaches `1` and `2`). Values reached are returned
//! as they are: a terminal array is one value here; callers decide whether to look inside it.

use cairn_doc::{FieldPath, Value};

use crate::limits::MAX_PATH_FANOUT;

/// Appends to `out` every value `path` reaches in `doc` (nothing when the field is missing).
/// Stops after [`MAX_PATH_FANOUT`] values.
pub fn collect<'a>(path: &FieldPath, doc: &'a Value, out: &mut Vec<&'a Value>) {
    walk(path.segments(), doc, out);
}

fn walk<'a>(segments: &[String], value: &'a Value, out: &mut Vec<&'a Value>) {
    if out.len() >= MAX_PATH_FANOUT {
        return;
    }
    let Some((segment, rest)) = segments.split_first() else {
        out.push(value);
        return;
    };
    match value {
        Value::Object(object) => {
            if let Some(next) = object.get(segment) {
                walk(rest, next, out);
            }
        }
        Value::Array(items) => {
            if let Ok(index) = segment.parse::<usize>() {
                if let Some(next) = items.get(index) {
                    walk(rest, next, out);
                }
                return;
            }
            for item in items {
                if matches!(item, Value::Object(_)) {
                    walk(segments, item, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reached(path: &str, json: &str) -> Vec<Value> {
        let doc = Value::from_json_str(json).unwrap();
        let path = FieldPath::parse(path).unwrap();
        let mut out = Vec::new();
        collect(&path, &doc, &mut out);
        out.into_iter().cloned().collect()
    }

    #[test]
    fn walks_objects_arrays_and_indexes() {
        assert_eq!(reached("a.b", r#"{"a":{"b":1}}"#), vec![Value::Int(1)]);
        assert_eq!(
            reached("a.b", r#"{"a":[{"b":1},{"b":2},3]}"#),
            vec![Value::Int(1), Value::Int(2)]
        );
        assert_eq!(reached("a.1", r#"{"a":[5,6]}"#), vec![Value::Int(6)]);
        assert_eq!(reached("a", r#"{"a":[5,6]}"#).len(), 1);
        assert!(reached("a.c", r#"{"a":{"b":1}}"#).is_empty());
    }
}
