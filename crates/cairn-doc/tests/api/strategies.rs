//! Proptest strategies for arbitrary valid documents.

use cairn_doc::limits::{DATETIME_MAX_MICROS, DATETIME_MIN_MICROS};
use cairn_doc::{DateTime, Object, Value, Vector};
use proptest::prelude::*;

/// A valid field name: non-empty, no `.`, not starting with `$`, any other Unicode.
pub fn field_name() -> impl Strategy<Value = String> {
    "[^.$][^.]{0,8}"
}

fn finite_f64() -> impl Strategy<Value = f64> {
    use proptest::num::f64::*;
    prop_oneof![
        NORMAL | SUBNORMAL | ZERO | NEGATIVE | POSITIVE,
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(-0.0),
        Just(1.5),
        Just(0.1),
        Just(9_007_199_254_740_993.0),
    ]
}

fn finite_f32() -> impl Strategy<Value = f32> {
    use proptest::num::f32::*;
    prop_oneof![
        NORMAL | SUBNORMAL | ZERO | NEGATIVE | POSITIVE,
        Just(f32::MAX),
        Just(-0.0f32)
    ]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
        -200i64..200
    ]
}

/// Any leaf (non-container) value.
pub fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        int().prop_map(Value::Int),
        finite_f64().prop_map(Value::Float),
        "\\PC{0,12}".prop_map(Value::String),
        ".{0,4}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        (DATETIME_MIN_MICROS..=DATETIME_MAX_MICROS).prop_map(|m| Value::DateTime(DateTime(m))),
        any::<u128>().prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u))),
        prop::collection::vec(finite_f32(), 0..9).prop_map(|v| Value::Vector(Vector::from_vec(v))),
    ]
}

/// Any value, nested a few levels.
pub fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..5)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Any valid document (an object at the root).
pub fn document() -> impl Strategy<Value = Value> {
    prop::collection::vec((field_name(), value()), 0..6)
        .prop_map(|fields| Value::Object(fields.into_iter().collect::<Object>()))
}
