//! Points and their values, and the limits every point is checked against before it is
//! stored.

use std::collections::BTreeMap;

use cairn_doc::{Object, Value};

use crate::error::{Result, TsError};
use crate::limits::{MAX_FIELDS_PER_POINT, MAX_FIELD_NAME_BYTES, MAX_STRING_BYTES, MAX_VECTOR_DIM};

/// One value of a point. Floats compare by their bits (so NaN equals the same NaN and
/// `0.0 != -0.0`): "lossless" means bit for bit, and the tests compare that way.
#[derive(Debug, Clone)]
pub enum Sample {
    /// A 64-bit float (NaN payloads and signed zeros are kept).
    Float(f64),
    /// A 64-bit integer (a counter).
    Int(i64),
    /// A boolean (a state flag).
    Bool(bool),
    /// Text (a log level, a process state).
    Str(String),
    /// A vector (a trajectory point), stored one float column per component.
    Vector(Vec<f64>),
}

impl PartialEq for Sample {
    fn eq(&self, other: &Sample) -> bool {
        match (self, other) {
            (Sample::Float(a), Sample::Float(b)) => a.to_bits() == b.to_bits(),
            (Sample::Int(a), Sample::Int(b)) => a == b,
            (Sample::Bool(a), Sample::Bool(b)) => a == b,
            (Sample::Str(a), Sample::Str(b)) => a == b,
            (Sample::Vector(a), Sample::Vector(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            _ => false,
        }
    }
}

impl Sample {
    /// The column type name used in errors: `float`, `int`, `bool`, `string`, `vector`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Sample::Float(_) => "float",
            Sample::Int(_) => "int",
            Sample::Bool(_) => "bool",
            Sample::Str(_) => "string",
            Sample::Vector(_) => "vector",
        }
    }

    /// The value as a document value (vectors become arrays of floats).
    pub fn to_value(&self) -> Value {
        match self {
            Sample::Float(v) => Value::Float(*v),
            Sample::Int(v) => Value::Int(*v),
            Sample::Bool(v) => Value::Bool(*v),
            Sample::Str(v) => Value::String(v.clone()),
            Sample::Vector(v) => Value::Array(v.iter().map(|x| Value::Float(*x)).collect()),
        }
    }

    /// The sample a document value stores as, `None` for `null` (an absent value).
    pub fn from_value(field: &str, value: &Value) -> Result<Option<Sample>> {
        let unsupported = || TsError::UnsupportedValue {
            field: field.to_string(),
            type_name: value.type_name(),
        };
        Ok(Some(match value {
            Value::Null => return Ok(None),
            Value::Float(v) => Sample::Float(*v),
            Value::Int(v) => Sample::Int(*v),
            Value::Bool(v) => Sample::Bool(*v),
            Value::String(v) => Sample::Str(v.clone()),
            Value::Vector(v) => {
                Sample::Vector(v.as_slice().iter().map(|x| f64::from(*x)).collect())
            }
            Value::Array(items) => Sample::Vector(
                items
                    .iter()
                    .map(|item| match item {
                        Value::Float(x) => Ok(*x),
                        Value::Int(x) => Ok(*x as f64),
                        _ => Err(unsupported()),
                    })
                    .collect::<Result<_>>()?,
            ),
            _ => return Err(unsupported()),
        }))
    }
}

/// One point of a series: a time and named values.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The time, in the collection's unit (microseconds since the Unix epoch when it came
    /// from a `DateTime`).
    pub time: i64,
    /// Values by field name; a field absent here is absent in the point.
    pub fields: BTreeMap<String, Sample>,
}

impl Point {
    /// A point with one value.
    pub fn single(time: i64, field: &str, sample: Sample) -> Point {
        Point {
            time,
            fields: BTreeMap::from([(field.to_string(), sample)]),
        }
    }

    /// Checks the point against the limits in `limits.rs`.
    pub fn validate(&self) -> Result<()> {
        check_limit(
            "fields in one point",
            self.fields.len(),
            MAX_FIELDS_PER_POINT,
        )?;
        for (name, sample) in &self.fields {
            check_limit("bytes of a field name", name.len(), MAX_FIELD_NAME_BYTES)?;
            match sample {
                Sample::Str(s) => {
                    check_limit("bytes of a string value", s.len(), MAX_STRING_BYTES)?
                }
                Sample::Vector(v) => {
                    check_limit("components of a vector value", v.len(), MAX_VECTOR_DIM)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The point as a document: `{time_field: time, meta_field: series, ...values}`.
    pub fn to_document(&self, time_field: &str, meta_field: &str, series: &Value) -> Value {
        let mut object = Object::with_capacity(self.fields.len() + 2);
        object.insert(time_field, Value::Int(self.time));
        object.insert(meta_field, series.clone());
        for (name, sample) in &self.fields {
            object.insert(name.as_str(), sample.to_value());
        }
        Value::Object(object)
    }

    /// Splits a document into its series key (the meta field) and its point. The time field
    /// must be an integer or a `DateTime` (taken as microseconds); `_id` is ignored.
    pub fn from_document(
        doc: &Value,
        time_field: &str,
        meta_field: &str,
    ) -> Result<(Value, Point)> {
        let Value::Object(object) = doc else {
            return Err(TsError::BadTime {
                field: time_field.to_string(),
                reason: "the point is not an object".to_string(),
            });
        };
        let time = match object.get(time_field) {
            Some(Value::Int(t)) => *t,
            Some(Value::DateTime(t)) => t.micros(),
            other => {
                return Err(TsError::BadTime {
                    field: time_field.to_string(),
                    reason: match other {
                        None => "missing".to_string(),
                        Some(v) => format!("a {} is not a time", v.type_name()),
                    },
                })
            }
        };
        let meta = object
            .get(meta_field)
            .cloned()
            .ok_or_else(|| TsError::MissingMeta {
                field: meta_field.to_string(),
            })?;
        let mut fields = BTreeMap::new();
        for (name, value) in object.iter() {
            if name == time_field || name == meta_field || name == "_id" {
                continue;
            }
            if let Some(sample) = Sample::from_value(name, value)? {
                fields.insert(name.to_string(), sample);
            }
        }
        let point = Point { time, fields };
        point.validate()?;
        Ok((meta, point))
    }
}

pub(crate) fn check_limit(what: &'static str, actual: usize, limit: usize) -> Result<()> {
    if actual > limit {
        return Err(TsError::LimitExceeded {
            what,
            actual: actual as u64,
            limit: limit as u64,
        });
    }
    Ok(())
}
