//! `serde::Serialize` for [`Value`], following the JSON mapping in the [module docs](super).
//!
//! This is for serde users (servers serializing responses, other formats); [`Value::to_json_string`]
//! writes the same mapping directly.

use base64::Engine as _;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use crate::{Object, Value};

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => {
                let text = base64::engine::general_purpose::STANDARD.encode(b);
                wrapper(serializer, "$bytes", &text)
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(object) => object.serialize(serializer),
            Value::DateTime(d) => match d.to_rfc3339() {
                Ok(text) => wrapper(serializer, "$date", &text),
                // Out of the RFC 3339 range (hand-built values only): integer microseconds.
                Err(_) => wrapper(serializer, "$date", &d.micros()),
            },
            Value::Uuid(u) => wrapper(serializer, "$uuid", &u.hyphenated().to_string()),
            Value::Vector(v) => wrapper(serializer, "$vector", v.as_slice()),
            Value::Geometry(g) => wrapper(serializer, "$geometry", &g.to_json_object()),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Serializes the single-key object `{key: value}`.
fn wrapper<S: Serializer, T: Serialize + ?Sized>(
    serializer: S,
    key: &str,
    value: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(key, value)?;
    map.end()
}
