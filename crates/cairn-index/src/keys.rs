//! Order-preserving key encoding of values: the one definition of how Cairn orders values.
//!
//! B-tree index keys, sort keys and range comparisons all use this encoding, so "byte order of
//! the encoding equals value order" is the whole ordering story. The total order across types:
//!
//! ```text
//! null (and missing) < false < true < numbers < strings < bytes < uuids < datetimes
//!   < arrays < objects < vectors < geometries
//! ```
//!
//! * Numbers: `Int` and `Float` compare numerically (`1 == 1.0`, `2 < 2.5`); `-0.0 == 0.0`; NaN
//!   (never stored in documents, but possible in a filter) sorts below every other number.
//! * Strings and bytes: lexicographic by UTF-8 bytes (binary collation).
//! * Arrays: element by element; a prefix sorts first.
//! * Objects: as lists of (field name, value) pairs **sorted by field name**, so two objects
//!   that are equal regardless of field order ([`cairn_doc::values_equal`]) encode identically.
//! * Vectors: by dimension, then component by component.
//! * Geometries: by kind (point < segment < triangle < mesh < box < sphere), then coordinates
//!   in order (`-0.0 == 0.0`); meshes first by vertex count and triangle count, then vertices,
//!   then indices. Only equality matters for them in practice (spatial queries use the spatial
//!   index), but the order is total so sorting and B-tree indexes work on any field.
//!
//! Every encoding is self-delimiting, so the concatenation of several encodings (a composite
//! key) sorts as the tuple does, and [`skip`] can find where one ends.
//!
//! Layout, by leading tag byte:
//!
//! | tag | type | body |
//! |---|---|---|
//! | 0x05 | null | none |
//! | 0x10/0x11 | false/true | none |
//! | 0x20 | number | 8-byte order-mapped f64 of the value, then 2-byte sign-flipped i16 correction (integer minus that f64) |
//! | 0x30 | string | bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x01 |
//! | 0x40 | bytes | same escaping as strings |
//! | 0x50 | uuid | 16 bytes |
//! | 0x60 | datetime | 8-byte sign-flipped big-endian microseconds |
//! | 0x70 | array | elements, then 0x00 |
//! | 0x80 | object | per field: 0x02, escaped name, value; then 0x01 |
//! | 0x90 | vector | 4-byte big-endian dimension, then 4-byte order-mapped f32 per component |
//! | 0xA0 | geometry | kind byte; a mesh then has 4-byte big-endian vertex and triangle counts; 8-byte order-mapped f64 per coordinate (and radius); a mesh's indices as 4-byte big-endian |
//!
//! The number correction: every `i64` is within 2^10 of its nearest `f64`, so (nearest f64,
//! difference) orders integers exactly and places a float equal to that f64 (difference 0)
//! exactly where numeric order puts it.

use std::cmp::Ordering;

use cairn_doc::{Geometry, Object, Value};

use crate::error::{IndexError, Result};

/// Tag of null (and of a missing field, in index keys).
pub const TAG_NULL: u8 = 0x05;
/// Tag of `false`.
pub const TAG_FALSE: u8 = 0x10;
/// Tag of `true`.
pub const TAG_TRUE: u8 = 0x11;
/// Tag of numbers (ints and floats share it: they compare numerically).
pub const TAG_NUMBER: u8 = 0x20;
/// Tag of strings.
pub const TAG_STRING: u8 = 0x30;
/// Tag of byte strings.
pub const TAG_BYTES: u8 = 0x40;
/// Tag of UUIDs.
pub const TAG_UUID: u8 = 0x50;
/// Tag of datetimes.
pub const TAG_DATETIME: u8 = 0x60;
/// Tag of arrays.
pub const TAG_ARRAY: u8 = 0x70;
/// Tag of objects.
pub const TAG_OBJECT: u8 = 0x80;
/// Tag of vectors.
pub const TAG_VECTOR: u8 = 0x90;
/// Tag of geometries.
pub const TAG_GEOMETRY: u8 = 0xA0;

const ARRAY_END: u8 = 0x00;
const OBJECT_FIELD: u8 = 0x02;
const OBJECT_END: u8 = 0x01;
const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const STRING_END: u8 = 0x01;
const NUMBER_BODY: usize = 10;

/// The type bracket a value belongs to: values compare with range operators only within a
/// bracket (ints and floats share one).
pub fn bracket(value: &Value) -> u8 {
    match value {
        Value::Null => TAG_NULL,
        Value::Bool(_) => TAG_FALSE,
        Value::Int(_) | Value::Float(_) => TAG_NUMBER,
        Value::String(_) => TAG_STRING,
        Value::Bytes(_) => TAG_BYTES,
        Value::Uuid(_) => TAG_UUID,
        Value::DateTime(_) => TAG_DATETIME,
        Value::Array(_) => TAG_ARRAY,
        Value::Object(_) => TAG_OBJECT,
        Value::Vector(_) => TAG_VECTOR,
        Value::Geometry(_) => TAG_GEOMETRY,
    }
}

/// Appends the key encoding of `value` to `out`.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Int(i) => encode_int(*i, out),
        Value::Float(f) => encode_float(*f, out),
        Value::String(s) => {
            out.push(TAG_STRING);
            escape(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            escape(b, out);
        }
        Value::Uuid(u) => {
            out.push(TAG_UUID);
            out.extend_from_slice(u.as_bytes());
        }
        Value::DateTime(dt) => {
            out.push(TAG_DATETIME);
            out.extend_from_slice(&((dt.0 as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Array(items) => {
            out.push(TAG_ARRAY);
            for item in items {
                encode(item, out);
            }
            out.push(ARRAY_END);
        }
        Value::Object(object) => encode_object(object, out),
        Value::Vector(vector) => {
            out.push(TAG_VECTOR);
            let components = vector.as_slice();
            out.extend_from_slice(&(components.len() as u32).to_be_bytes());
            for c in components {
                out.extend_from_slice(&order_f32(*c).to_be_bytes());
            }
        }
        Value::Geometry(geometry) => encode_geometry(geometry, out),
    }
}

/// Number of f64 values in a fixed-size geometry kind's key body (a mesh has none fixed).
fn geometry_fixed_floats(kind: u8) -> Option<usize> {
    match kind {
        0 => Some(3),
        1 => Some(6),
        2 => Some(9),
        4 => Some(6),
        5 => Some(4),
        _ => None,
    }
}

fn encode_geometry(geometry: &Geometry, out: &mut Vec<u8>) {
    out.push(TAG_GEOMETRY);
    out.push(geometry.kind_byte());
    let floats = |values: &[f64], out: &mut Vec<u8>| {
        for v in values {
            out.extend_from_slice(&order_f64(*v).to_be_bytes());
        }
    };
    match geometry {
        Geometry::Point(p) => floats(p, out),
        Geometry::Segment(s) => floats(s.as_flattened(), out),
        Geometry::Triangle(t) => floats(t.as_flattened(), out),
        Geometry::Box { min, max } => {
            floats(min, out);
            floats(max, out);
        }
        Geometry::Sphere { center, radius } => {
            floats(center, out);
            floats(&[*radius], out);
        }
        Geometry::Mesh(mesh) => {
            out.extend_from_slice(&(mesh.vertices.len() as u32).to_be_bytes());
            out.extend_from_slice(&(mesh.triangles.len() as u32).to_be_bytes());
            floats(mesh.vertices.as_flattened(), out);
            for i in mesh.triangles.as_flattened() {
                out.extend_from_slice(&i.to_be_bytes());
            }
        }
    }
}

/// The key encoding of `value` as a new buffer.
pub fn encode_to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode(value, &mut out);
    out
}

/// Compares two values in the total order of this module (equal to comparing encodings).
pub fn compare(a: &Value, b: &Value) -> Ordering {
    // Fast paths for the common scalar cases; everything else compares encodings.
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Float(x), Value::Float(y)) if !x.is_nan() && !y.is_nan() => {
            x.partial_cmp(y).unwrap_or(Ordering::Equal)
        }
        (Value::DateTime(x), Value::DateTime(y)) => x.0.cmp(&y.0),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => {
            let (ta, tb) = (bracket(a), bracket(b));
            if ta != tb {
                return ta.cmp(&tb);
            }
            encode_to_vec(a).cmp(&encode_to_vec(b))
        }
    }
}

/// Length of the single encoded value at the start of `bytes`.
pub fn skip(bytes: &[u8]) -> Result<usize> {
    let corrupt = || IndexError::CorruptKey;
    let tag = *bytes.first().ok_or_else(corrupt)?;
    let body = &bytes[1..];
    let body_len = match tag {
        TAG_NULL | TAG_FALSE | TAG_TRUE => 0,
        TAG_NUMBER => NUMBER_BODY,
        TAG_STRING | TAG_BYTES => escaped_len(body).ok_or_else(corrupt)?,
        TAG_UUID => 16,
        TAG_DATETIME => 8,
        TAG_ARRAY => {
            let mut at = 0;
            loop {
                match body.get(at) {
                    Some(&ARRAY_END) => break at + 1,
                    Some(_) => at += skip(&body[at..])?,
                    None => return Err(corrupt()),
                }
            }
        }
        TAG_OBJECT => {
            let mut at = 0;
            loop {
                match body.get(at) {
                    Some(&OBJECT_END) => break at + 1,
                    Some(&OBJECT_FIELD) => {
                        at += 1;
                        at +=
                            escaped_len(body.get(at..).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
                        at += skip(body.get(at..).ok_or_else(corrupt)?)?;
                    }
                    _ => return Err(corrupt()),
                }
            }
        }
        TAG_VECTOR => {
            let dim = body.get(..4).ok_or_else(corrupt)?;
            let dim = u32::from_be_bytes([dim[0], dim[1], dim[2], dim[3]]) as usize;
            4 + dim.checked_mul(4).ok_or_else(corrupt)?
        }
        TAG_GEOMETRY => {
            let kind = *body.first().ok_or_else(corrupt)?;
            match geometry_fixed_floats(kind) {
                Some(n) => 1 + 8 * n,
                None if kind == 3 => {
                    let count = |at: usize| -> Result<usize> {
                        let raw = body.get(at..at + 4).ok_or_else(corrupt)?;
                        Ok(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize)
                    };
                    let (vertices, triangles) = (count(1)?, count(5)?);
                    9 + vertices * 24 + triangles * 12
                }
                None => return Err(corrupt()),
            }
        }
        _ => return Err(corrupt()),
    };
    let total = 1 + body_len;
    if total > bytes.len() {
        return Err(corrupt());
    }
    Ok(total)
}

/// Length of the first `n` encoded values at the start of `bytes` (a composite key's tuple).
pub fn skip_n(bytes: &[u8], n: usize) -> Result<usize> {
    let mut at = 0;
    for _ in 0..n {
        at += skip(bytes.get(at..).ok_or(IndexError::CorruptKey)?)?;
    }
    Ok(at)
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None`
/// when there is none (the prefix is all 0xFF).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

fn encode_int(i: i64, out: &mut Vec<u8>) {
    let approx = i as f64;
    // |i - approx| <= 2^10 for every i64, so the difference fits an i16. The i128 keeps the
    // subtraction exact at the extremes (approx may be 2^63, just above i64::MAX).
    let diff = (i as i128 - approx as i128) as i16;
    debug_assert_eq!(i as i128, approx as i128 + i128::from(diff));
    out.push(TAG_NUMBER);
    out.extend_from_slice(&order_f64(approx).to_be_bytes());
    out.extend_from_slice(&((diff as u16) ^ 0x8000).to_be_bytes());
}

fn encode_float(f: f64, out: &mut Vec<u8>) {
    out.push(TAG_NUMBER);
    let bits = if f.is_nan() {
        0 // below every mapped non-NaN value, whose mapping is at least 1 (see `order_f64`)
    } else {
        order_f64(f)
    };
    out.extend_from_slice(&bits.to_be_bytes());
    out.extend_from_slice(&0x8000u16.to_be_bytes());
}

/// Maps an f64 to a u64 whose unsigned order is the float's numeric order (`-0.0` and `0.0`
/// map alike). The result is never 0 for a non-NaN value, leaving 0 for NaN.
pub(crate) fn order_f64(f: f64) -> u64 {
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = f.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn order_f32(f: f32) -> u32 {
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = f.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | (1 << 31)
    }
}

fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    out.push(ESCAPE);
    out.push(STRING_END);
}

/// Length of an escaped byte string including its terminator.
fn escaped_len(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let b = *bytes.get(at)?;
        if b == ESCAPE {
            match *bytes.get(at + 1)? {
                ESCAPED_ZERO => at += 2,
                STRING_END => return Some(at + 2),
                _ => return None,
            }
        } else {
            at += 1;
        }
    }
}

fn encode_object(object: &Object, out: &mut Vec<u8>) {
    out.push(TAG_OBJECT);
    let mut fields: Vec<(&str, &Value)> = object.iter().collect();
    fields.sort_unstable_by_key(|(name, _)| *name);
    for (name, value) in fields {
        out.push(OBJECT_FIELD);
        escape(name.as_bytes(), out);
        encode(value, out);
    }
    out.push(OBJECT_END);
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_doc::values_equal;
    use proptest::prelude::*;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            (-1e20f64..1e20).prop_map(Value::Float),
            prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(9_007_199_254_740_993)]
                .prop_map(Value::Int),
            prop_oneof![
                Just(9.223372036854776e18),
                Just(-0.0),
                Just(9_007_199_254_740_992.0)
            ]
            .prop_map(Value::Float),
            "[a\\x00b]{0,4}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec(("[ab]{1,2}", inner), 0..3).prop_map(|fields| {
                    let mut object = Object::new();
                    for (k, v) in fields {
                        object.insert(k, v);
                    }
                    Value::Object(object)
                }),
            ]
        })
    }

    /// The numeric order of two numbers, computed exactly without going through f64.
    fn numeric_order(a: &Value, b: &Value) -> Option<Ordering> {
        fn exact(v: &Value) -> Option<(i128, f64)> {
            match v {
                Value::Int(i) => Some((i128::from(*i), 0.0)),
                Value::Float(f) => Some((f.floor() as i128, f - f.floor())),
                _ => None,
            }
        }
        let (ai, af) = exact(a)?;
        let (bi, bf) = exact(b)?;
        Some(ai.cmp(&bi).then(af.partial_cmp(&bf)?))
    }

    proptest! {
        #[test]
        fn numbers_order_exactly(a in scalar(), b in scalar()) {
            if let Some(expected) = numeric_order(&a, &b) {
                prop_assert_eq!(encode_to_vec(&a).cmp(&encode_to_vec(&b)), expected);
            }
        }

        #[test]
        fn equal_encodings_mean_semantic_equality(a in value(), b in value()) {
            let same = encode_to_vec(&a) == encode_to_vec(&b);
            prop_assert_eq!(same, values_equal(&a, &b));
        }

        #[test]
        fn compare_agrees_with_encoding(a in value(), b in value()) {
            prop_assert_eq!(compare(&a, &b), encode_to_vec(&a).cmp(&encode_to_vec(&b)));
        }

        #[test]
        fn tuples_sort_as_tuples(a in value(), b in value(), c in value(), d in value()) {
            let mut left = encode_to_vec(&a);
            encode(&b, &mut left);
            let mut right = encode_to_vec(&c);
            encode(&d, &mut right);
            let expected = compare(&a, &c).then(compare(&b, &d));
            prop_assert_eq!(left.cmp(&right), expected);
            prop_assert_eq!(skip_n(&left, 2).ok(), Some(left.len()));
        }
    }

    #[test]
    fn types_follow_the_documented_order() {
        let ordered = [
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(-5),
            Value::Float(2.5),
            Value::String(String::new()),
            Value::String("a".into()),
            Value::Bytes(vec![0]),
            Value::Uuid(uuid::Uuid::nil()),
            Value::DateTime(cairn_doc::DateTime(0)),
            Value::Array(vec![]),
            Value::Object(Object::new()),
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn skip_rejects_truncated_keys() {
        let key = encode_to_vec(&Value::String("abc".into()));
        for cut in 0..key.len() {
            assert!(skip(&key[..cut]).is_err());
        }
    }
}
