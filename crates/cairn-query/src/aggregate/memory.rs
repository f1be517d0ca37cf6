//! Memory accounting for the stages that hold documents: approximate bytes against a limit.
//!
//! Sizes are estimates (the in-memory `Value` plus its heap payload), good to within a small
//! factor; the point is that a runaway `$group` or `$sort` fails with a clear error long before
//! the process runs out of memory.

use std::mem::size_of;

use cairn_doc::Value;

use crate::error::{QueryError, Result};

/// Bytes held by one stage, checked against its limit on every growth.
#[derive(Debug)]
pub(super) struct Memory {
    used_bytes: usize,
    limit_bytes: usize,
    what: &'static str,
    hint: &'static str,
}

impl Memory {
    /// An empty account for `what`, failing past `limit_bytes` with `hint` as the advice.
    pub(super) fn new(what: &'static str, limit_bytes: usize, hint: &'static str) -> Memory {
        Memory {
            used_bytes: 0,
            limit_bytes,
            what,
            hint,
        }
    }

    /// Records `bytes` more, failing with [`QueryError::TooLarge`] past the limit.
    pub(super) fn grow(&mut self, bytes: usize) -> Result<()> {
        self.used_bytes = self.used_bytes.saturating_add(bytes);
        if self.used_bytes > self.limit_bytes {
            return Err(QueryError::TooLarge {
                what: self.what,
                limit: self.limit_bytes as u64,
                hint: self.hint,
            });
        }
        Ok(())
    }

    /// Records that `bytes` were released.
    pub(super) fn shrink(&mut self, bytes: usize) {
        self.used_bytes = self.used_bytes.saturating_sub(bytes);
    }
}

/// Approximate bytes `value` occupies in memory.
pub(super) fn value_bytes(value: &Value) -> usize {
    size_of::<Value>()
        + match value {
            Value::String(text) => text.len(),
            Value::Bytes(bytes) => bytes.len(),
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            Value::Object(object) => object
                .iter()
                .map(|(key, item)| size_of::<String>() + key.len() + value_bytes(item))
                .sum(),
            Value::Vector(vector) => vector.len() * size_of::<f32>(),
            Value::Geometry(geometry) => {
                size_of::<cairn_doc::Geometry>()
                    + match &**geometry {
                        cairn_doc::Geometry::Mesh(mesh) => {
                            mesh.vertices.len() * size_of::<cairn_doc::Point3>()
                                + mesh.triangles.len() * size_of::<[u32; 3]>()
                        }
                        _ => 0,
                    }
            }
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::DateTime(_)
            | Value::Uuid(_) => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_the_limit_is_an_error_naming_what_grew() {
        let mut memory = Memory::new("group memory", 100, "narrow the input");
        memory.grow(60).unwrap();
        memory.shrink(30);
        memory.grow(70).unwrap();
        let err = memory.grow(1).unwrap_err();
        assert!(matches!(
            err,
            QueryError::TooLarge {
                what: "group memory",
                limit: 100,
                ..
            }
        ));
    }

    #[test]
    fn value_size_counts_nested_payloads() {
        let small = Value::from_json_str(r#"{"a": 1}"#).unwrap();
        let large = Value::from_json_str(r#"{"a": [1, 2, 3, "a long string of text"]}"#).unwrap();
        assert!(value_bytes(&large) > value_bytes(&small) + 4 * size_of::<Value>());
    }
}
