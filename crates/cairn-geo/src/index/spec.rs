//! Spatial index definitions and how they are stored in the catalog.

use cairn_doc::{FieldPath, Object, Value};

use crate::error::{GeoError, Result};

/// The storage layout of the entries this build writes and reads: packed pages
/// (`pages.rs`). Stored in every definition, so an index of another layout is refused by name
/// instead of read wrong.
pub const LAYOUT: &str = "pages";

/// A spatial index definition: one field holding geometries (or arrays of them).
#[derive(Debug, Clone, PartialEq)]
pub struct SpatialSpec {
    /// The index name (unique within its collection, shared with other extensions).
    pub name: String,
    /// The indexed field.
    pub field: FieldPath,
}

impl SpatialSpec {
    /// Builds and validates a definition.
    pub fn new(name: &str, field: &str) -> Result<SpatialSpec> {
        let field = FieldPath::parse(field).map_err(|err| GeoError::InvalidDefinition {
            name: name.to_string(),
            reason: format!("field `{field}`: {err}"),
        })?;
        Ok(SpatialSpec {
            name: name.to_string(),
            field,
        })
    }

    /// The definition as stored in the catalog, with the storage layout it is built in.
    pub fn to_config(&self) -> Value {
        let mut object = Object::new();
        object.insert("field", Value::String(self.field.to_string()));
        object.insert("layout", Value::String(LAYOUT.to_string()));
        Value::Object(object)
    }

    /// Reads a stored definition back; refuses one built in another storage layout (its
    /// entries would not be found), naming the way out.
    pub fn from_config(name: &str, config: &Value) -> Result<SpatialSpec> {
        let object = config.as_object();
        let layout = object.and_then(|o| o.get("layout")).and_then(Value::as_str);
        if layout != Some(LAYOUT) {
            return Err(GeoError::InvalidDefinition {
                name: name.to_string(),
                reason: format!(
                    "the index is stored in layout `{}`, this build reads `{LAYOUT}`: drop the \
                     index and create it again",
                    layout.unwrap_or("entries (one key per part)")
                ),
            });
        }
        let field = object
            .and_then(|o| o.get("field"))
            .and_then(Value::as_str)
            .ok_or_else(|| GeoError::InvalidDefinition {
                name: name.to_string(),
                reason: "`field` must be a string".to_string(),
            })?;
        SpatialSpec::new(name, field)
    }
}
