//! Reading JSON (or any self-describing serde format) straight into [`Value`], with no
//! intermediate tree.
//!
//! The visitor enforces what cannot be checked afterwards or must be bounded while reading:
//! nesting depth (to bound recursion), duplicate keys (lost once an object is built), wrapper
//! shapes and vector length. The remaining document rules are checked by one pass over the result
//! ([`check_rules`]), the same pass encoding uses, so JSON and binary input obey identical rules.

use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::extended::MongoWrapper;
use super::JsonRules;
use crate::encode::check_nested_value;
use crate::limits::{MAX_NESTING_DEPTH, MAX_VECTOR_DIM};
use crate::{DateTime, DocError, Object, Value, Vector};

/// A value deserialized under the expression rules: keys may contain `.` or start with `$`, as in
/// patches and filters (see the module docs of `json.rs`). Use it as a field type in request bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonExpression(pub Value);

impl<'de> de::Deserialize<'de> for Value {
    /// Deserializes under the document rules.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        let rule_error = RefCell::new(None);
        let value = root_seed(JsonRules::Document, &rule_error).deserialize(deserializer)?;
        check_rules(&value).map_err(de::Error::custom)?;
        Ok(value)
    }
}

impl<'de> de::Deserialize<'de> for JsonExpression {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonExpression, D::Error> {
        let rule_error = RefCell::new(None);
        let value = root_seed(JsonRules::Expression, &rule_error).deserialize(deserializer)?;
        Ok(JsonExpression(value))
    }
}

/// Checks the document rules that the visitor leaves to a pass over the finished value.
pub(super) fn check_rules(value: &Value) -> Result<(), DocError> {
    check_nested_value(value, 0)
}

/// The seed for a whole JSON text; `rule_error` receives the typed error if a rule fails.
pub(super) fn root_seed(rules: JsonRules, rule_error: &RefCell<Option<DocError>>) -> ValueSeed<'_> {
    ValueSeed {
        rules,
        parent_depth: 0,
        rule_error,
    }
}

/// Deserializes one value sitting inside containers nested `parent_depth` deep.
pub(super) struct ValueSeed<'a> {
    rules: JsonRules,
    parent_depth: usize,
    rule_error: &'a RefCell<Option<DocError>>,
}

impl<'a> ValueSeed<'a> {
    fn child(&self) -> ValueSeed<'a> {
        ValueSeed {
            rules: self.rules,
            parent_depth: self.parent_depth + 1,
            rule_error: self.rule_error,
        }
    }

    /// Records `error` for the caller and turns it into the format's error type.
    fn fail<E: de::Error>(&self, error: DocError) -> E {
        let message = error.to_string();
        let mut slot = self.rule_error.borrow_mut();
        if slot.is_none() {
            *slot = Some(error);
        }
        E::custom(message)
    }

    /// Checks that a container opened here stays within the nesting limit.
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        let depth = self.parent_depth + 1;
        if depth > MAX_NESTING_DEPTH {
            return Err(self.fail(DocError::TooDeep {
                depth,
                limit: MAX_NESTING_DEPTH,
            }));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        // Integers beyond i64 become floats (rounded), as the mapping promises.
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        if !f.is_finite() {
            return Err(self.fail(DocError::NonFiniteFloat {
                path: String::new(),
            }));
        }
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(b.to_vec()))
    }

    fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(b))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(first_key) = map.next_key::<String>()? else {
            self.enter()?;
            return Ok(Value::Object(Object::new()));
        };
        if let Some(wrapper) = Wrapper::from_key(&first_key) {
            let value = map.next_value_seed(WrapperSeed {
                wrapper,
                outer: &self,
            })?;
            if let Some(extra) = map.next_key::<String>()? {
                return Err(self.fail(DocError::InvalidWrapper {
                    wrapper: wrapper.key(),
                    reason: format!("it must be the only key of its object, found {extra:?} too"),
                }));
            }
            return Ok(value);
        }
        self.enter()?;
        let mut object = Object::new();
        let mut key = first_key;
        loop {
            let value = map.next_value_seed(self.child())?;
            // Duplicates are detected once the object is complete, in O(n log n).
            object.push_unchecked(key, value);
            match map.next_key::<String>()? {
                Some(next) => key = next,
                None => break,
            }
        }
        if let Some(duplicate) = object.first_duplicate_key() {
            let key = duplicate.to_owned();
            return Err(self.fail(DocError::DuplicateKey { key }));
        }
        Ok(Value::Object(object))
    }
}

/// The extended-JSON wrappers for types JSON lacks: Cairn's own, and MongoDB's (see
/// [`super::extended`]).
#[derive(Debug, Clone, Copy)]
enum Wrapper {
    Date,
    Uuid,
    Bytes,
    Vector,
    Geometry,
    Mongo(MongoWrapper),
}

impl Wrapper {
    fn from_key(key: &str) -> Option<Wrapper> {
        match key {
            "$date" => Some(Wrapper::Date),
            "$uuid" => Some(Wrapper::Uuid),
            "$bytes" => Some(Wrapper::Bytes),
            "$vector" => Some(Wrapper::Vector),
            "$geometry" => Some(Wrapper::Geometry),
            _ => MongoWrapper::from_key(key).map(Wrapper::Mongo),
        }
    }

    fn key(self) -> &'static str {
        match self {
            Wrapper::Date => "$date",
            Wrapper::Uuid => "$uuid",
            Wrapper::Bytes => "$bytes",
            Wrapper::Vector => "$vector",
            Wrapper::Geometry => "$geometry",
            Wrapper::Mongo(mongo) => mongo.key(),
        }
    }
}

/// Deserializes the value inside a wrapper object.
struct WrapperSeed<'s, 'a> {
    wrapper: Wrapper,
    outer: &'s ValueSeed<'a>,
}

impl WrapperSeed<'_, '_> {
    /// A date from milliseconds since the epoch (MongoDB's unit for integer dates).
    fn date_from_millis<E: de::Error>(&self, millis: i64) -> Result<Value, E> {
        let date = millis.checked_mul(1_000).map(DateTime::from_micros);
        match date {
            Some(date) if date.is_in_document_range() => Ok(Value::DateTime(date)),
            _ => Err(self.outer.fail(DocError::DateTimeOutOfRange {
                path: String::new(),
                micros: millis.saturating_mul(1_000),
            })),
        }
    }

    fn invalid<E: de::Error>(&self, reason: String) -> E {
        self.outer.fail(DocError::InvalidWrapper {
            wrapper: self.wrapper.key(),
            reason,
        })
    }
}

impl<'de> DeserializeSeed<'de> for WrapperSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.wrapper {
            Wrapper::Date => deserializer.deserialize_any(self),
            Wrapper::Mongo(mongo) => {
                let inner = self.outer.child().deserialize(deserializer)?;
                mongo.convert(inner).map_err(|reason| self.invalid(reason))
            }
            Wrapper::Vector => deserializer.deserialize_seq(self),
            Wrapper::Geometry => {
                let inner = self.outer.child().deserialize(deserializer)?;
                match crate::Geometry::from_json_value(&inner) {
                    Ok(g) => Ok(Value::Geometry(Box::new(g))),
                    Err(defect) => Err(self.outer.fail(DocError::InvalidGeometry {
                        path: String::new(),
                        defect,
                    })),
                }
            }
            Wrapper::Uuid => {
                let text = <String as de::Deserialize>::deserialize(deserializer)?;
                match uuid::Uuid::try_parse(&text) {
                    Ok(u) => Ok(Value::Uuid(u)),
                    Err(e) => Err(self.invalid(format!("{text:?} is not a UUID: {e}"))),
                }
            }
            Wrapper::Bytes => {
                let text = <String as de::Deserialize>::deserialize(deserializer)?;
                match base64::engine::general_purpose::STANDARD.decode(&text) {
                    Ok(bytes) => Ok(Value::Bytes(bytes)),
                    Err(e) => Err(self.invalid(format!("not standard padded base64: {e}"))),
                }
            }
        }
    }
}

/// Visits `$date` (text, integer milliseconds as in MongoDB's Extended JSON, or
/// `{"$numberLong": "…"}` milliseconds) and `$vector` (array of numbers) contents.
impl<'de> Visitor<'de> for WrapperSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.wrapper {
            Wrapper::Vector => f.write_str("an array of numbers"),
            _ => f.write_str("RFC 3339 text or integer milliseconds since the epoch"),
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Value, E> {
        if !matches!(self.wrapper, Wrapper::Date) {
            return Err(E::invalid_type(de::Unexpected::Str(text), &self));
        }
        match DateTime::parse_rfc3339(text) {
            Ok(date) => Ok(Value::DateTime(date)),
            Err(e) => Err(self.outer.fail(e)),
        }
    }

    fn visit_i64<E: de::Error>(self, millis: i64) -> Result<Value, E> {
        if !matches!(self.wrapper, Wrapper::Date) {
            return Err(E::invalid_type(de::Unexpected::Signed(millis), &self));
        }
        self.date_from_millis(millis)
    }

    fn visit_u64<E: de::Error>(self, millis: u64) -> Result<Value, E> {
        match i64::try_from(millis) {
            Ok(millis) => self.visit_i64(millis),
            Err(_) => Err(self.invalid(format!("{millis} ms is outside years 0000..=9999"))),
        }
    }

    /// `{"$date": {"$numberLong": "…"}}`, MongoDB's canonical form: milliseconds.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        if !matches!(self.wrapper, Wrapper::Date) {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        match self.outer.child().visit_map(map)? {
            Value::Int(millis) => self.date_from_millis(millis),
            _ => Err(self.invalid(
                "an object inside `$date` must be {\"$numberLong\": \"<milliseconds>\"}".to_owned(),
            )),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !matches!(self.wrapper, Wrapper::Vector) {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        let mut components = Vec::new();
        while let Some(component) = seq.next_element::<f64>()? {
            if components.len() == MAX_VECTOR_DIM {
                return Err(self.outer.fail(DocError::VectorTooLarge {
                    path: String::new(),
                    dim: MAX_VECTOR_DIM + 1,
                    limit: MAX_VECTOR_DIM,
                }));
            }
            let component = component as f32;
            if !component.is_finite() {
                let path = String::new();
                return Err(self.outer.fail(DocError::NonFiniteFloat { path }));
            }
            components.push(component);
        }
        Ok(Value::Vector(Vector::from_vec(components)))
    }
}
