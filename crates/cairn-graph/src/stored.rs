//! Edge properties stored in the adjacency index: an edge collection may declare a few of its
//! edges' top-level properties (say `weight` and `active`) whose values are copied into both
//! adjacency entries of every edge, so a traversal narrowed by them and Dijkstra weighing by
//! them never read an edge document.
//!
//! * **Declared** at creation ([`crate::EdgeOptions::properties`]) or later with
//!   [`crate::declare_edge_properties`], which rewrites the adjacency in the declaring
//!   transaction. The list lives in the edge extension's catalog configuration
//!   (`"properties": [...]`, omitted when empty), which every query reads once.
//! * **Stored** as one encoded document holding the declared fields the edge has (a missing
//!   field is absent, so `$exists` and `null` answer as on the edge itself), appended to the
//!   vertex key in the entry's value (see [`crate::layout`]). Vertex keys are length-prefixed,
//!   so the value splits exactly.
//! * **Format compatibility**: an edge collection declaring nothing writes exactly the value
//!   of earlier versions (the vertex key alone), so databases written before this change read
//!   unchanged. An entry with no tail — none declared, or the declared values encode larger
//!   than [`MAX_STORED_PROPERTY_BYTES`] — makes a query read the edge document instead, so a
//!   tail is an optimisation a reader never depends on for correctness.

use cairn_doc::{decode_document, encode_document, Object, Value};

use crate::error::{GraphError, Result};
use crate::limits::{MAX_STORED_PROPERTIES, MAX_STORED_PROPERTY_BYTES};

/// The fields an edge filter or weight may never be answered from stored values: the edge's
/// identity and endpoints are not stored as properties.
const RESERVED: [&str; 3] = ["_id", "_from", "_to"];

/// Checks a declared property list: at most [`MAX_STORED_PROPERTIES`] distinct top-level
/// field names, none of `_id`, `_from`, `_to`.
pub(crate) fn check_names(names: &[String]) -> Result<()> {
    let invalid = |name: &str, reason: String| GraphError::InvalidProperty {
        name: name.to_string(),
        reason,
    };
    if names.len() > MAX_STORED_PROPERTIES {
        return Err(invalid(
            "properties",
            format!(
                "{} stored edge properties declared; the limit is {MAX_STORED_PROPERTIES}",
                names.len()
            ),
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() || name.contains('.') {
            return Err(invalid(
                name,
                "a stored edge property is one top-level field name (no `.`)".into(),
            ));
        }
        if RESERVED.contains(&name.as_str()) {
            return Err(invalid(
                name,
                "`_id`, `_from` and `_to` are the edge itself, not properties".into(),
            ));
        }
        if names[..i].contains(name) {
            return Err(invalid(name, "declared twice".into()));
        }
    }
    Ok(())
}

/// The bytes appended to both adjacency values of an edge whose document is `doc`, for an
/// edge collection storing `names`: empty when it stores none, or when the values encode
/// larger than [`MAX_STORED_PROPERTY_BYTES`] (readers then read the edge document).
pub(crate) fn tail(doc: &Value, names: &[String]) -> Vec<u8> {
    if names.is_empty() {
        return Vec::new();
    }
    let mut kept = Object::new();
    if let Some(obj) = doc.as_object() {
        for name in names {
            if let Some(value) = obj.get(name) {
                kept.insert(name.clone(), value.clone());
            }
        }
    }
    let mut out = Vec::new();
    match encode_document(&Value::Object(kept), &mut out) {
        Ok(()) if out.len() <= MAX_STORED_PROPERTY_BYTES => out,
        _ => Vec::new(),
    }
}

/// Decodes a non-empty tail: the declared fields the edge has.
pub(crate) fn decode(collection: &str, tail: &[u8]) -> Result<Value> {
    decode_document(tail).map_err(|err| GraphError::Corrupt {
        collection: collection.to_string(),
        detail: format!("stored edge properties do not decode: {err}"),
    })
}

/// The stored-property list of an edge extension's configuration (empty when absent: edge
/// collections created before properties could be stored).
pub(crate) fn from_config(config: &Value) -> Vec<String> {
    config
        .as_object()
        .and_then(|o| o.get("properties"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every field in `fields` is one of `stored`: then a condition on them can be
/// answered from stored values.
pub(crate) fn covers(stored: &[String], fields: &[String]) -> bool {
    !stored.is_empty() && fields.iter().all(|field| stored.contains(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tail_keeps_only_declared_fields_and_decodes() {
        let doc = Value::from_json_str(
            r#"{"_id": 1, "_from": "a/1", "_to": "a/2", "weight": 2.5, "note": "x"}"#,
        )
        .unwrap_or(Value::Null);
        let bytes = tail(&doc, &names(&["weight", "active"]));
        let back = decode("e", &bytes).unwrap_or(Value::Null);
        assert_eq!(
            back,
            Value::from_json_str(r#"{"weight": 2.5}"#).unwrap_or(Value::Null)
        );
        assert!(tail(&doc, &[]).is_empty());
    }

    #[test]
    fn oversized_values_are_not_stored() {
        let big = "x".repeat(MAX_STORED_PROPERTY_BYTES + 1);
        let doc = Value::from_json_str(&format!(r#"{{"label": "{big}"}}"#)).unwrap_or(Value::Null);
        assert!(tail(&doc, &names(&["label"])).is_empty());
    }

    #[test]
    fn bad_declarations_are_refused() {
        for bad in [
            names(&["a.b"]),
            names(&[""]),
            names(&["_from"]),
            names(&["w", "w"]),
            (0..=MAX_STORED_PROPERTIES)
                .map(|i| format!("p{i}"))
                .collect(),
        ] {
            assert!(
                matches!(check_names(&bad), Err(GraphError::InvalidProperty { .. })),
                "{bad:?}"
            );
        }
        assert!(check_names(&names(&["weight", "active"])).is_ok());
    }
}
