//! Naming a vertex: any document of any collection, as `"collection/id"` text or
//! `{"collection": ..., "id": ...}`, and its key encoding in the adjacency index.
//!
//! **Canonical form.** Edges store `_from`/`_to` as text, `collection/id`, with the id
//! written as [`DocId::parse_cli`] reads it back: integers in decimal, UUIDs hyphenated
//! lowercase, strings as they are — except a string id that would read back as something
//! else (it looks like an integer or a UUID, or starts with `"`), which is written as a JSON
//! string literal (`patients/"7"` is the string id `7`). So the text round-trips exactly, is
//! what a person types, and an equality filter `{"_from": "patients/7"}` finds the edges of a
//! vertex. Collection names cannot contain `/`, so the text splits at its first `/`.
//!
//! **Key.** `len(collection):u8 ‖ collection ‖ len(id key):u16 BE ‖ id key` (the id key is
//! [`DocId::encode_key`]). Length-prefixed, so no vertex key is a prefix of another's and a
//! prefix scan over one vertex's key finds exactly its adjacency entries.

use cairn_doc::{DocId, Object, Value};

use crate::error::{GraphError, Result};

/// A vertex: a document of some collection (which need not exist under `none`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VertexRef {
    /// The vertex's collection.
    pub collection: String,
    /// The vertex document's `_id`.
    pub id: DocId,
}

impl VertexRef {
    /// A vertex of `collection` with `id`.
    pub fn new(collection: impl Into<String>, id: impl Into<DocId>) -> VertexRef {
        VertexRef {
            collection: collection.into(),
            id: id.into(),
        }
    }

    /// Reads a vertex reference given as `"collection/id"` text or as an object
    /// `{"collection": text, "id": int | string | uuid}`; `field` names where it was given,
    /// for the error.
    pub fn from_value(field: &str, value: &Value) -> Result<VertexRef> {
        let invalid = |reason: String| GraphError::InvalidVertex {
            field: field.to_string(),
            reason,
        };
        let vertex = match value {
            Value::String(text) => VertexRef::parse(field, text)?,
            Value::Object(obj) => {
                let collection =
                    obj.get("collection")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            invalid("an object reference needs a text `collection`".into())
                        })?;
                let id = obj
                    .get("id")
                    .ok_or_else(|| invalid("an object reference needs an `id`".into()))?;
                if obj.len() != 2 {
                    return Err(invalid(
                        "an object reference has exactly the fields `collection` and `id`".into(),
                    ));
                }
                let id = DocId::from_value(id).map_err(|err| invalid(err.to_string()))?;
                VertexRef::new(collection, id)
            }
            other => {
                return Err(invalid(format!(
                    "expected \"collection/id\" text or {{\"collection\", \"id\"}}, found {}",
                    other.type_name()
                )))
            }
        };
        vertex.check(field)?;
        Ok(vertex)
    }

    /// Parses `collection/id` text (see the module documentation for how ids are written).
    pub fn parse(field: &str, text: &str) -> Result<VertexRef> {
        let Some((collection, id)) = text.split_once('/') else {
            return Err(GraphError::InvalidVertex {
                field: field.to_string(),
                reason: format!("`{text}` is not \"collection/id\" (no `/`)"),
            });
        };
        let vertex = VertexRef::new(collection, DocId::parse_cli(id));
        vertex.check(field)?;
        Ok(vertex)
    }

    /// Checks the collection name and that the id can be a key.
    fn check(&self, field: &str) -> Result<()> {
        let invalid = |reason: String| GraphError::InvalidVertex {
            field: field.to_string(),
            reason,
        };
        cairn_engine::validate_name(&self.collection).map_err(|err| invalid(err.to_string()))?;
        self.id.to_key().map_err(|err| invalid(err.to_string()))?;
        Ok(())
    }

    /// The canonical text form, `collection/id`.
    pub fn to_text(&self) -> String {
        let id = match &self.id {
            DocId::String(s) if DocId::parse_cli(s) != self.id => {
                serde_json::to_string(s).unwrap_or_else(|_| s.clone())
            }
            other => other.to_string(),
        };
        format!("{}/{id}", self.collection)
    }

    /// The object form, `{"collection": ..., "id": ...}`.
    pub fn to_object(&self) -> Value {
        let mut obj = Object::new();
        obj.insert("collection", Value::String(self.collection.clone()));
        obj.insert("id", self.id.to_value());
        Value::Object(obj)
    }

    /// The adjacency key of this vertex (see the module documentation).
    pub fn key(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.collection.len() + 24);
        self.append_key(&mut out)?;
        Ok(out)
    }

    /// Appends the adjacency key of this vertex to `out`.
    pub fn append_key(&self, out: &mut Vec<u8>) -> Result<()> {
        let name = u8::try_from(self.collection.len()).map_err(|_| GraphError::InvalidVertex {
            field: "collection".into(),
            reason: "collection name longer than 255 bytes".into(),
        })?;
        let id = self.id.to_key()?;
        // `MAX_ID_BYTES` (1 KiB) keeps every id key within a u16.
        let id_len = u16::try_from(id.len()).map_err(|_| GraphError::InvalidVertex {
            field: "id".into(),
            reason: "id key longer than 65535 bytes".into(),
        })?;
        out.push(name);
        out.extend_from_slice(self.collection.as_bytes());
        out.extend_from_slice(&id_len.to_be_bytes());
        out.extend_from_slice(&id);
        Ok(())
    }

    /// Decodes a vertex key at the start of `bytes`; returns it and the bytes after it.
    pub fn decode_key(bytes: &[u8]) -> Option<(VertexRef, &[u8])> {
        let (len, rest) = split_key(bytes)?;
        let (name_len, name) = (usize::from(bytes[0]), &bytes[1..]);
        let collection = std::str::from_utf8(name.get(..name_len)?).ok()?.to_string();
        let id = DocId::decode_key(&bytes[name_len + 3..len]).ok()?;
        Some((VertexRef { collection, id }, rest))
    }
}

/// Splits a vertex key off the front of `bytes`: its length and what follows.
pub(crate) fn split_key(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let name_len = usize::from(*bytes.first()?);
    let len_at = 1 + name_len;
    let id_len = u16::from_be_bytes([*bytes.get(len_at)?, *bytes.get(len_at + 1)?]);
    let end = len_at + 2 + usize::from(id_len);
    if end > bytes.len() {
        return None;
    }
    Some((end, &bytes[end..]))
}

/// The collection-name part of a vertex key (no copy).
pub(crate) fn key_collection(key: &[u8]) -> Option<&str> {
    let name_len = usize::from(*key.first()?);
    std::str::from_utf8(key.get(1..1 + name_len)?).ok()
}

/// The id-key part of a vertex key (no copy): what the collection's documents table is keyed by.
pub(crate) fn key_id(key: &[u8]) -> Option<&[u8]> {
    let (end, _) = split_key(key)?;
    let name_len = usize::from(key[0]);
    key.get(name_len + 3..end)
}

impl std::fmt::Display for VertexRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id_strategy() -> impl Strategy<Value = DocId> {
        prop_oneof![
            any::<i64>().prop_map(DocId::Int),
            "[a-z0-9\"/ -]{1,12}".prop_map(DocId::String),
            any::<u128>().prop_map(|n| DocId::Uuid(uuid::Uuid::from_u128(n))),
        ]
    }

    proptest! {
        #[test]
        fn text_form_round_trips(id in id_strategy()) {
            let vertex = VertexRef::new("patients", id);
            let text = vertex.to_text();
            prop_assert_eq!(VertexRef::parse("_from", &text).ok(), Some(vertex.clone()));
            let object = vertex.to_object();
            prop_assert_eq!(VertexRef::from_value("_from", &object).ok(), Some(vertex.clone()));
        }

        #[test]
        fn keys_decode_and_are_prefix_free(a in id_strategy(), b in id_strategy()) {
            let va = VertexRef::new("p", a);
            let vb = VertexRef::new("p", b);
            let (ka, kb) = (va.key().unwrap_or_default(), vb.key().unwrap_or_default());
            let mut tail = ka.clone();
            tail.extend_from_slice(b"edge");
            let decoded = VertexRef::decode_key(&tail);
            prop_assert_eq!(decoded, Some((va.clone(), &b"edge"[..])));
            if va != vb {
                prop_assert!(!kb.starts_with(&ka));
            }
        }
    }

    #[test]
    fn malformed_references_name_the_field() {
        for bad in [
            Value::Int(3),
            Value::String("no-slash".into()),
            Value::String("1bad/3".into()),
            Value::String("patients/".into()),
        ] {
            match VertexRef::from_value("_to", &bad) {
                Err(GraphError::InvalidVertex { field, .. }) => assert_eq!(field, "_to"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn numeric_looking_string_ids_are_quoted() {
        let vertex = VertexRef::new("p", DocId::String("7".into()));
        assert_eq!(vertex.to_text(), "p/\"7\"");
        assert_eq!(VertexRef::new("p", 7).to_text(), "p/7");
    }
}
