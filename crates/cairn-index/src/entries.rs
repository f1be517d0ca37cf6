//! The entries a document contributes to an index, and how they are laid out as keys.
//!
//! Layout of the `entries` table (see the crate documentation for why):
//!
//! | kind | key | value |
//! |---|---|---|
//! | B-tree, unique, no null in the tuple | tuple | document key |
//! | B-tree, otherwise | tuple ‖ document key | empty |
//! | hash | xxh3-64(tuple), big-endian ‖ document key | tuple |
//!
//! A *tuple* is the concatenation of the [`crate::keys`] encodings of the indexed fields. A
//! missing field is indexed as null, so every document has at least one entry (a full scan of
//! a non-multikey B-tree index visits every document once, in key order). An array field
//! contributes one entry per distinct element (multikey); an empty array counts as null.

use cairn_doc::Value;
use cairn_engine::EngineError;

use crate::error::{IndexError, Result};
use crate::keys;
use crate::limits::{MAX_ENTRIES_PER_DOCUMENT, MAX_INDEX_KEY_BYTES};
use crate::path_values;
use crate::spec::{IndexKind, IndexSpec};

static NULL: Value = Value::Null;

/// One index entry of a document, before layout.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// The encoded field values.
    pub tuple: Vec<u8>,
    /// Whether some field is null or missing (exempt from uniqueness).
    pub has_null: bool,
}

/// A document's entries, sorted and without duplicates, and whether any indexed field held
/// an array.
#[derive(Debug, Default)]
pub struct DocEntries {
    /// The entries.
    pub entries: Vec<Entry>,
    /// Whether an indexed field held an array (the index is then multikey).
    pub multikey: bool,
}

/// Computes the entries of `doc` for `spec`.
pub fn doc_entries(spec: &IndexSpec, doc: &Value) -> Result<DocEntries> {
    let mut multikey = false;
    let mut per_field: Vec<Vec<&Value>> = Vec::with_capacity(spec.fields.len());
    let mut reached = Vec::new();
    for path in &spec.fields {
        reached.clear();
        path_values::collect(path, doc, &mut reached);
        let mut keys: Vec<&Value> = Vec::with_capacity(reached.len());
        for value in &reached {
            match value {
                Value::Array(items) => {
                    multikey = true;
                    keys.extend(items.iter());
                }
                other => keys.push(other),
            }
        }
        if reached.len() > 1 {
            multikey = true;
        }
        if keys.is_empty() {
            keys.push(&NULL);
        }
        per_field.push(keys);
    }
    let total = per_field
        .iter()
        .try_fold(1usize, |acc, keys| acc.checked_mul(keys.len()))
        .unwrap_or(usize::MAX);
    if total > MAX_ENTRIES_PER_DOCUMENT {
        return Err(IndexError::Engine(EngineError::LimitExceeded {
            what: "index entries of one document",
            actual: total as u64,
            limit: MAX_ENTRIES_PER_DOCUMENT as u64,
        }));
    }
    let mut entries = vec![Entry {
        tuple: Vec::new(),
        has_null: false,
    }];
    for keys in &per_field {
        let mut next = Vec::with_capacity(entries.len() * keys.len());
        for entry in &entries {
            for value in keys {
                let mut tuple = entry.tuple.clone();
                keys::encode(value, &mut tuple);
                next.push(Entry {
                    tuple,
                    has_null: entry.has_null || value.is_null(),
                });
            }
        }
        entries = next;
    }
    entries.sort_unstable();
    entries.dedup();
    if let Some(long) = entries.iter().find(|e| e.tuple.len() > MAX_INDEX_KEY_BYTES) {
        return Err(IndexError::Engine(EngineError::LimitExceeded {
            what: "bytes of one index key",
            actual: long.tuple.len() as u64,
            limit: MAX_INDEX_KEY_BYTES as u64,
        }));
    }
    Ok(DocEntries { entries, multikey })
}

/// The stored (key, value) of an entry for the document with key `doc_key`.
pub fn layout(spec: &IndexSpec, entry: &Entry, doc_key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match spec.kind {
        IndexKind::BTree if spec.unique && !entry.has_null => {
            (entry.tuple.clone(), doc_key.to_vec())
        }
        IndexKind::BTree => {
            let mut key = Vec::with_capacity(entry.tuple.len() + doc_key.len());
            key.extend_from_slice(&entry.tuple);
            key.extend_from_slice(doc_key);
            (key, Vec::new())
        }
        IndexKind::Hash => {
            let mut key = Vec::with_capacity(8 + doc_key.len());
            key.extend_from_slice(&hash_tuple(&entry.tuple).to_be_bytes());
            key.extend_from_slice(doc_key);
            (key, entry.tuple.clone())
        }
    }
}

/// The hash of a tuple in hash indexes (xxh3-64: stable across versions and platforms).
pub fn hash_tuple(tuple: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(tuple)
}

/// Splits a stored entry into (tuple, document key).
pub fn split<'a>(spec: &IndexSpec, key: &'a [u8], value: &'a [u8]) -> Result<(&'a [u8], &'a [u8])> {
    match spec.kind {
        IndexKind::Hash => {
            let doc_key = key.get(8..).ok_or(IndexError::CorruptKey)?;
            Ok((value, doc_key))
        }
        IndexKind::BTree if !value.is_empty() => Ok((key, value)),
        IndexKind::BTree => {
            let tuple_len = keys::skip_n(key, spec.fields.len())?;
            Ok((&key[..tuple_len], &key[tuple_len..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(fields: &[&str], json: &str) -> DocEntries {
        let spec = IndexSpec::btree("i", fields).unwrap();
        doc_entries(&spec, &Value::from_json_str(json).unwrap()).unwrap()
    }

    #[test]
    fn missing_fields_index_as_null_and_arrays_as_elements() {
        let missing = entries(&["x"], r#"{"a":1}"#);
        assert_eq!(missing.entries.len(), 1);
        assert!(missing.entries[0].has_null && !missing.multikey);
        let array = entries(&["a"], r#"{"a":[3,1,3]}"#);
        assert_eq!(array.entries.len(), 2);
        assert!(array.multikey);
        let product = entries(&["a", "b"], r#"{"a":[1,2],"b":[3,4]}"#);
        assert_eq!(product.entries.len(), 4);
    }

    #[test]
    fn layouts_split_back() {
        for kind in [IndexKind::BTree, IndexKind::Hash] {
            for unique in [false, true] {
                let spec = IndexSpec::new("i", &["a", "b"], kind, unique).unwrap();
                let doc = Value::from_json_str(r#"{"a":"x\u0000y","b":2}"#).unwrap();
                let e = &doc_entries(&spec, &doc).unwrap().entries[0];
                let (key, value) = layout(&spec, e, b"doc-key");
                let (tuple, doc_key) = split(&spec, &key, &value).unwrap();
                assert_eq!(tuple, e.tuple.as_slice());
                assert_eq!(doc_key, b"doc-key");
            }
        }
    }
}
