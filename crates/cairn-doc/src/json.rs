//! The JSON mapping of [`Value`]: how documents are read from and written as JSON text.
//!
//! # Mapping
//!
//! | JSON                                   | Value                                             |
//! |----------------------------------------|---------------------------------------------------|
//! | `null`, `true`, `false`                | `Null`, `Bool`                                    |
//! | a number that is an integer in i64     | `Int` (`1`, `-7`)                                 |
//! | `-0`                                   | `Float(-0.0)`, keeping the sign                   |
//! | any other number                       | `Float` (`1.0`, `2.5`, `1e3`, `18446744073709551615`) |
//! | string                                 | `String`                                          |
//! | array                                  | `Array`                                           |
//! | object                                 | `Object`, keys in the order written               |
//! | `{"$date": "2024-05-01T10:30:00Z"}`    | `DateTime` (RFC 3339, any offset, ≤ µs precision) |
//! | `{"$date": 1714559400000}`             | `DateTime` from integer milliseconds since epoch (MongoDB's unit; also `{"$numberLong": "…"}`) |
//! | `{"$uuid": "0190c3c0-…"}`              | `Uuid` (hyphenated, simple, braced or URN text)   |
//! | `{"$bytes": "aGVsbG8="}`               | `Bytes` (standard base64 with padding)            |
//! | `{"$vector": [0.5, -1, 2.25]}`         | `Vector` (numbers converted to f32)               |
//!
//! MongoDB's Extended JSON v2 wrappers (`$numberLong`, `$oid`, `$binary`, …) are read too; their
//! mapping is in `json/extended.rs`.
//!
//! The `$` forms ("wrappers") are objects with exactly that one key. Writing produces the same
//! forms: integers without a fraction, floats always with a `.` or an exponent (so `1.0` stays a
//! float), dates as RFC 3339 UTC text with six fraction digits, UUIDs hyphenated lowercase.
//!
//! # Rules
//!
//! [`Value::from_json_str`] enforces the document rules, the same ones encoding enforces: field
//! names are non-empty, contain no `.` and do not start with `$` (so a `$` key other than a
//! wrapper is an error); numbers are finite and vectors at most [`crate::limits::MAX_VECTOR_DIM`]
//! long; dates are in years 0000..=9999; nesting is at most
//! [`crate::limits::MAX_NESTING_DEPTH`] (wrappers do not count as nesting) and the encoded size at
//! most [`crate::limits::MAX_DOCUMENT_BYTES`]. Duplicate keys are an error at any depth, where most
//! JSON parsers silently keep the last.
//!
//! [`Value::from_json_expression`] reads operator expressions such as patches
//! (`{"$set": {"a.b": 1}}`): keys are free-form, wrappers are still recognised, and only depth and
//! duplicate keys are checked. The values it yields are checked again where they are used (for
//! example by [`crate::Patch::from_value`]).
//!
//! `Value` implements serde's `Serialize` and `Deserialize` with this mapping (deserializing
//! applies the document rules); [`JsonExpression`] deserializes with the expression rules.
//! Writing a value that breaks the rules (only possible for values built by hand) still produces
//! JSON: non-finite floats become `null` and out-of-range dates are written as integer
//! milliseconds.
//!
//! [`Value::to_mongo_json_string`] writes MongoDB's relaxed Extended JSON v2 instead (for
//! `mongoimport`): bytes and UUIDs as `$binary`, dates as ISO text with milliseconds (a date's
//! microseconds are truncated), vectors as arrays, geometry as its plain object.

mod deserialize;
mod extended;
mod serialize;
mod write;

use std::cell::RefCell;

use crate::{DocError, Value};

pub use deserialize::JsonExpression;

/// Which rules JSON input must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonRules {
    /// Stored data: every document rule applies.
    Document,
    /// Operator expressions (patches, filters): keys are free-form.
    Expression,
}

impl Value {
    /// Parses JSON text into a value under the document rules (see the module docs of `json.rs`).
    ///
    /// Any JSON value is accepted at the root; a stored document must additionally be an object,
    /// which encoding checks.
    pub fn from_json_str(text: &str) -> Result<Value, DocError> {
        parse(text, JsonRules::Document)
    }

    /// Parses JSON text holding an operator expression such as a patch: keys may contain `.` or
    /// start with `$`; wrappers such as `{"$date": ..}` are still read as typed values.
    pub fn from_json_expression(text: &str) -> Result<Value, DocError> {
        parse(text, JsonRules::Expression)
    }

    /// The value as compact JSON text, using the wrappers above for non-JSON types.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        write::write_value(self, &mut out);
        out
    }

    /// The value as MongoDB relaxed Extended JSON v2 (see the module docs of `json.rs`); what
    /// `cairn export --format mongo` writes.
    pub fn to_mongo_json_string(&self) -> String {
        let mut out = String::new();
        write::write_flavored(self, write::Flavor::MongoRelaxed, &mut out);
        out
    }

    /// Appends the value as compact JSON to `out`, exactly as [`Value::to_json_string`] writes
    /// it: for callers that size (or reuse) the buffer themselves.
    pub fn write_json(&self, out: &mut String) {
        write::write_value(self, out);
    }
}

impl std::fmt::Display for Value {
    /// Writes the value as compact JSON, exactly as [`Value::to_json_string`] does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

/// Parses `text`, returning the precise [`DocError`] when a rule (rather than the syntax) failed.
fn parse(text: &str, rules: JsonRules) -> Result<Value, DocError> {
    // serde can only carry string errors out of a visitor; the visitor parks the typed error here
    // so the caller gets a variant it can match on.
    let rule_error = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let seed = deserialize::root_seed(rules, &rule_error);
    let parsed = serde::de::DeserializeSeed::deserialize(seed, &mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    let value = match parsed {
        Ok(value) => value,
        Err(syntax) => return Err(rule_error.into_inner().unwrap_or_else(|| syntax.into())),
    };
    if rules == JsonRules::Document {
        deserialize::check_rules(&value)?;
    }
    Ok(value)
}
