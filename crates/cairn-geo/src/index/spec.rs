//! Spatial index definitions and how they are stored in the catalog.

use cairn_doc::{FieldPath, Object, Value};

use crate::error::{GeoError, Result};

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

    /// The definition as stored in the catalog.
    pub fn to_config(&self) -> Value {
        let mut object = Object::new();
        object.insert("field", Value::String(self.field.to_string()));
        Value::Object(object)
    }

    /// Reads a stored definition back.
    pub fn from_config(name: &str, config: &Value) -> Result<SpatialSpec> {
        let field = config
            .as_object()
            .and_then(|o| o.get("field"))
            .and_then(Value::as_str)
            .ok_or_else(|| GeoError::InvalidDefinition {
                name: name.to_string(),
                reason: "`field` must be a string".to_string(),
            })?;
        SpatialSpec::new(name, field)
    }
}
