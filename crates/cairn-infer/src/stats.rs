//! [`InferredSchema`]: per-path document counts and type counts, and their stored form.

use std::collections::BTreeMap;

use cairn_doc::{Object, Value};

use crate::limits::MAX_INFERRED_FIELDS;
use crate::shape::shape;

/// What inference knows about a collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferredSchema {
    /// Documents in the collection.
    pub documents: u64,
    /// The change-log sequence number the figures are current to.
    pub as_of_seq: u64,
    /// Whether new paths stopped being tracked at [`MAX_INFERRED_FIELDS`] (the tracked ones
    /// are still exact).
    pub truncated: bool,
    /// Per field path (see [`crate::shape`]).
    pub fields: BTreeMap<String, FieldStats>,
}

/// Figures of one field path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldStats {
    /// Documents in which the path appears.
    pub documents: u64,
    /// Per type label: documents in which the path holds a value of that type.
    pub types: BTreeMap<String, u64>,
}

impl InferredSchema {
    /// Statistics of a set of documents (a full scan).
    pub fn from_documents<'d>(docs: impl IntoIterator<Item = &'d Value>) -> InferredSchema {
        let mut schema = InferredSchema::default();
        for doc in docs {
            schema.add(doc);
        }
        schema
    }

    /// Counts a document in.
    pub fn add(&mut self, doc: &Value) {
        self.documents += 1;
        for (path, types) in shape(doc) {
            if !self.fields.contains_key(&path) {
                // A path first seen after truncation is never tracked, so every tracked path
                // has been counted since its first document: its figures stay exact.
                if self.truncated || self.fields.len() >= MAX_INFERRED_FIELDS {
                    self.truncated = true;
                    continue;
                }
            }
            let stats = self.fields.entry(path).or_default();
            stats.documents += 1;
            for label in types {
                *stats.types.entry(label).or_default() += 1;
            }
        }
    }

    /// Counts a document out. Fails (naming the path) if the figures do not contain it, which
    /// means they are damaged.
    pub fn remove(&mut self, doc: &Value) -> Result<(), String> {
        self.documents = self
            .documents
            .checked_sub(1)
            .ok_or("removing a document from an empty collection")?;
        for (path, types) in shape(doc) {
            let Some(stats) = self.fields.get_mut(&path) else {
                if self.truncated {
                    continue;
                }
                return Err(format!("path `{path}` was never counted"));
            };
            stats.documents = stats
                .documents
                .checked_sub(1)
                .ok_or_else(|| format!("path `{path}` count below zero"))?;
            for label in types {
                let count = stats
                    .types
                    .get_mut(&label)
                    .ok_or_else(|| format!("type {label} of `{path}` was never counted"))?;
                *count -= 1;
                if *count == 0 {
                    stats.types.remove(&label);
                }
            }
            if stats.documents == 0 {
                self.fields.remove(&path);
            }
        }
        Ok(())
    }

    /// The stored form: `{"seq", "documents", "truncated", "fields": [[path, documents,
    /// [[type, count], ...]], ...]}` (arrays, because paths contain `.`, which field names
    /// may not).
    pub(crate) fn to_value(&self) -> Value {
        let fields = self
            .fields
            .iter()
            .map(|(path, stats)| {
                let types = stats
                    .types
                    .iter()
                    .map(|(label, count)| {
                        Value::Array(vec![Value::String(label.clone()), count_value(*count)])
                    })
                    .collect();
                Value::Array(vec![
                    Value::String(path.clone()),
                    count_value(stats.documents),
                    Value::Array(types),
                ])
            })
            .collect();
        let mut obj = Object::with_capacity(4);
        obj.insert("seq", count_value(self.as_of_seq));
        obj.insert("documents", count_value(self.documents));
        obj.insert("truncated", Value::Bool(self.truncated));
        obj.insert("fields", Value::Array(fields));
        Value::Object(obj)
    }

    /// Reads the stored form back; `None` if it is malformed.
    pub(crate) fn from_value(value: &Value) -> Option<InferredSchema> {
        let obj = value.as_object()?;
        let count = |v: Option<&Value>| {
            v.and_then(Value::as_i64)
                .and_then(|n| u64::try_from(n).ok())
        };
        let mut schema = InferredSchema {
            documents: count(obj.get("documents"))?,
            as_of_seq: count(obj.get("seq"))?,
            truncated: obj.get("truncated")?.as_bool()?,
            fields: BTreeMap::new(),
        };
        for field in obj.get("fields")?.as_array()? {
            let [path, documents, types] = field.as_array()?.as_slice() else {
                return None;
            };
            let mut stats = FieldStats {
                documents: count(Some(documents))?,
                types: BTreeMap::new(),
            };
            for entry in types.as_array()? {
                let [label, n] = entry.as_array()?.as_slice() else {
                    return None;
                };
                stats
                    .types
                    .insert(label.as_str()?.to_string(), count(Some(n))?);
            }
            schema.fields.insert(path.as_str()?.to_string(), stats);
        }
        Some(schema)
    }
}

fn count_value(count: u64) -> Value {
    // Counts of documents and sequence numbers stay far below i64::MAX.
    Value::Int(i64::try_from(count).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    #[test]
    fn removing_undoes_adding_and_the_stored_form_round_trips() {
        let a = doc(r#"{"_id": 1, "x": 1, "tags": ["a", 2]}"#);
        let b = doc(r#"{"_id": 2, "x": "s", "v": {"w": null}}"#);
        let mut schema = InferredSchema::from_documents([&a, &b]);
        assert_eq!(schema.fields["x"].types.len(), 2);
        assert_eq!(schema.fields["_id"].documents, 2);
        schema.as_of_seq = 42;
        let stored = InferredSchema::from_value(&schema.to_value()).unwrap();
        assert_eq!(stored, schema);
        schema.remove(&b).unwrap();
        let mut only_a = InferredSchema::from_documents([&a]);
        only_a.as_of_seq = 42;
        assert_eq!(schema, only_a);
        assert!(
            schema.remove(&b).is_err(),
            "removing what was never added is detected"
        );
    }

    #[test]
    fn paths_beyond_the_limit_are_not_tracked_and_the_rest_stay_exact() {
        let mut schema = InferredSchema::default();
        for n in 0..MAX_INFERRED_FIELDS + 5 {
            schema.add(&doc(&format!(r#"{{"f{n}": 1, "common": true}}"#)));
        }
        assert!(schema.truncated);
        assert_eq!(schema.fields.len(), MAX_INFERRED_FIELDS);
        assert_eq!(
            schema.fields["common"].documents,
            MAX_INFERRED_FIELDS as u64 + 5
        );
        schema
            .remove(&doc(&format!(
                r#"{{"f{}": 1, "common": true}}"#,
                MAX_INFERRED_FIELDS + 1
            )))
            .unwrap();
        assert_eq!(
            schema.fields["common"].documents,
            MAX_INFERRED_FIELDS as u64 + 4
        );
    }
}
