//! Index definitions and how they are stored in the catalog (as the extension's config).

use cairn_doc::{FieldPath, Object, Value};

use crate::error::{IndexError, Result};
use crate::limits::MAX_INDEX_FIELDS;

/// How an index organises its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Ordered by value: equality, ranges, prefixes of composite keys and ordered scans.
    BTree,
    /// Keyed by a 64-bit hash of the whole key: equality on every field only, with small
    /// fixed-size keys however long the values are.
    Hash,
}

impl IndexKind {
    /// The kind's name as written in definitions: `btree` or `hash`.
    pub fn name(self) -> &'static str {
        match self {
            IndexKind::BTree => "btree",
            IndexKind::Hash => "hash",
        }
    }

    /// Parses `btree` or `hash`.
    pub fn parse(text: &str) -> Option<IndexKind> {
        match text {
            "btree" => Some(IndexKind::BTree),
            "hash" => Some(IndexKind::Hash),
            _ => None,
        }
    }
}

/// A secondary index definition.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    /// The index name (unique within its collection).
    pub name: String,
    /// The indexed fields, in key order (nested paths allowed).
    pub fields: Vec<FieldPath>,
    /// B-tree or hash.
    pub kind: IndexKind,
    /// Whether two documents may share a key. Keys containing a null or missing field are
    /// exempt (as SQL treats NULL in unique constraints).
    pub unique: bool,
}

impl IndexSpec {
    /// A B-tree, non-unique index on `fields` (comma-free paths such as `a.b`).
    pub fn btree(name: &str, fields: &[&str]) -> Result<IndexSpec> {
        IndexSpec::new(name, fields, IndexKind::BTree, false)
    }

    /// Builds and validates a definition.
    pub fn new(name: &str, fields: &[&str], kind: IndexKind, unique: bool) -> Result<IndexSpec> {
        let invalid = |reason: String| IndexError::InvalidDefinition {
            name: name.to_string(),
            reason,
        };
        if fields.is_empty() {
            return Err(invalid("an index needs at least one field".into()));
        }
        if fields.len() > MAX_INDEX_FIELDS {
            return Err(invalid(format!(
                "{} fields; the limit is {MAX_INDEX_FIELDS}",
                fields.len()
            )));
        }
        let mut paths = Vec::with_capacity(fields.len());
        for field in fields {
            let path = FieldPath::parse(field)
                .map_err(|err| invalid(format!("field `{field}`: {err}")))?;
            if paths.contains(&path) {
                return Err(invalid(format!("field `{field}` is listed twice")));
            }
            paths.push(path);
        }
        Ok(IndexSpec {
            name: name.to_string(),
            fields: paths,
            kind,
            unique,
        })
    }

    /// The definition as stored in the catalog.
    pub fn to_config(&self) -> Value {
        let mut object = Object::new();
        object.insert(
            "fields",
            Value::Array(
                self.fields
                    .iter()
                    .map(|f| Value::String(f.to_string()))
                    .collect(),
            ),
        );
        object.insert("kind", Value::String(self.kind.name().to_string()));
        object.insert("unique", Value::Bool(self.unique));
        Value::Object(object)
    }

    /// Reads a stored definition back.
    pub fn from_config(name: &str, config: &Value) -> Result<IndexSpec> {
        let invalid = |reason: &str| IndexError::InvalidDefinition {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let object = config.as_object().ok_or_else(|| invalid("not an object"))?;
        let fields = object
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("`fields` must be a list"))?;
        let fields: Vec<&str> = fields
            .iter()
            .map(|f| f.as_str().ok_or_else(|| invalid("fields must be strings")))
            .collect::<Result<_>>()?;
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .and_then(IndexKind::parse)
            .ok_or_else(|| invalid("`kind` must be `btree` or `hash`"))?;
        let unique = object
            .get("unique")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        IndexSpec::new(name, &fields, kind, unique)
    }

    /// The field names as written (`a.b`).
    pub fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(ToString::to_string).collect()
    }
}
