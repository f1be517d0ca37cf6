//! [`Value`]: every value a document can hold.
//!
//! The model is JSON's plus the types a database needs to store faithfully rather than as strings:
//! raw bytes, instants, UUIDs and dense vectors. Integers and floats are distinct so that counters
//! stay exact; [`crate::values_equal`] compares them numerically where semantics call for it.

use crate::{DateTime, Geometry, Object, Vector};

/// A document value.
///
/// A *document* is a `Value::Object` at the root that satisfies the document rules (see the crate
/// documentation); any `Value` can be built in memory, and the rules are checked when it is encoded
/// or parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent or unknown value (JSON `null`).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A finite 64-bit float (documents reject NaN and infinities).
    Float(f64),
    /// UTF-8 text.
    String(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An ordered list of values.
    Array(Vec<Value>),
    /// An ordered map from field names to values.
    Object(Object),
    /// An instant in UTC, microsecond precision.
    DateTime(DateTime),
    /// A UUID.
    Uuid(uuid::Uuid),
    /// A dense `f32` vector (an embedding), readable in place from its record.
    Vector(Vector),
    /// A 3D shape (point, segment, triangle, mesh, box, sphere); see [`Geometry`].
    Geometry(Box<Geometry>),
}

impl Value {
    /// The name of this value's type, as used in error messages and the query language: `null`,
    /// `bool`, `int`, `float`, `string`, `bytes`, `array`, `object`, `datetime`, `uuid`, `vector`, `geometry`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::DateTime(_) => "datetime",
            Value::Uuid(_) => "uuid",
            Value::Vector(_) => "vector",
            Value::Geometry(_) => "geometry",
        }
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is an `Int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is a `Float` or an `Int` (integers beyond 2^53 round).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The text, if this is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is `Bytes`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an `Array`.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The elements, mutably, if this is an `Array`.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The object, if this is an `Object`.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The object, mutably, if this is an `Object`.
    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The instant, if this is a `DateTime`.
    pub fn as_datetime(&self) -> Option<DateTime> {
        match self {
            Value::DateTime(d) => Some(*d),
            _ => None,
        }
    }

    /// The UUID, if this is a `Uuid`.
    pub fn as_uuid(&self) -> Option<uuid::Uuid> {
        match self {
            Value::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    /// The geometry, if this is a `Geometry`.
    pub fn as_geometry(&self) -> Option<&Geometry> {
        match self {
            Value::Geometry(g) => Some(g),
            _ => None,
        }
    }

    /// The vector, if this is a `Vector`.
    pub fn as_vector(&self) -> Option<&Vector> {
        match self {
            Value::Vector(v) => Some(v),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i.into())
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Value {
        Value::Int(i.into())
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Value {
        Value::Object(object)
    }
}

impl From<DateTime> for Value {
    fn from(d: DateTime) -> Value {
        Value::DateTime(d)
    }
}

impl From<uuid::Uuid> for Value {
    fn from(u: uuid::Uuid) -> Value {
        Value::Uuid(u)
    }
}

impl From<Vector> for Value {
    fn from(v: Vector) -> Value {
        Value::Vector(v)
    }
}

impl From<Geometry> for Value {
    fn from(g: Geometry) -> Value {
        Value::Geometry(Box::new(g))
    }
}
