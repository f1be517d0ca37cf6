//! Decoding key encodings back to values (for messages, `distinct` and diagnostics).
//!
//! Decoding is exact for every type except numbers: a number key does not record whether it
//! was written as an int or a float, so an integral value in `i64` range decodes as `Int`.
//! Both are equal under query semantics.

use cairn_doc::{DateTime, Geometry, Mesh, Object, Point3, Value, Vector};

use crate::error::{IndexError, Result};
use crate::keys::{
    skip, TAG_ARRAY, TAG_BYTES, TAG_DATETIME, TAG_FALSE, TAG_GEOMETRY, TAG_NULL, TAG_NUMBER,
    TAG_OBJECT, TAG_STRING, TAG_TRUE, TAG_UUID, TAG_VECTOR,
};

/// Decodes the first `n` values of a tuple.
pub fn decode_tuple(bytes: &[u8], n: usize) -> Result<Vec<Value>> {
    let mut at = 0;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let rest = bytes.get(at..).ok_or(IndexError::CorruptKey)?;
        let len = skip(rest)?;
        out.push(decode(&rest[..len])?);
        at += len;
    }
    Ok(out)
}

/// Decodes one value from exactly its encoding.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    let corrupt = || IndexError::CorruptKey;
    let (&tag, body) = bytes.split_first().ok_or_else(corrupt)?;
    Ok(match tag {
        TAG_NULL => Value::Null,
        TAG_FALSE => Value::Bool(false),
        TAG_TRUE => Value::Bool(true),
        TAG_NUMBER => decode_number(body).ok_or_else(corrupt)?,
        TAG_STRING => String::from_utf8(unescape(body)?.0)
            .map_or_else(|_| Err(corrupt()), |s| Ok(Value::String(s)))?,
        TAG_BYTES => Value::Bytes(unescape(body)?.0),
        TAG_UUID => Value::Uuid(uuid::Uuid::from_slice(body).map_err(|_| corrupt())?),
        TAG_DATETIME => {
            let raw: [u8; 8] = body.try_into().map_err(|_| corrupt())?;
            Value::DateTime(DateTime((u64::from_be_bytes(raw) ^ (1 << 63)) as i64))
        }
        TAG_ARRAY => {
            let mut items = Vec::new();
            let mut at = 0;
            while body.get(at) != Some(&0x00) {
                let rest = body.get(at..).ok_or_else(corrupt)?;
                let len = skip(rest)?;
                items.push(decode(&rest[..len])?);
                at += len;
            }
            Value::Array(items)
        }
        TAG_OBJECT => decode_object(body)?,
        TAG_VECTOR => {
            let components = body.get(4..).ok_or_else(corrupt)?;
            let values = components
                .chunks_exact(4)
                .map(|c| unorder_f32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect();
            Value::Vector(Vector::from_vec(values))
        }
        TAG_GEOMETRY => Value::Geometry(Box::new(decode_geometry(body).ok_or_else(corrupt)?)),
        _ => return Err(corrupt()),
    })
}

fn decode_number(body: &[u8]) -> Option<Value> {
    let bits = u64::from_be_bytes(body.get(..8)?.try_into().ok()?);
    let diff = (u16::from_be_bytes(body.get(8..10)?.try_into().ok()?) ^ 0x8000) as i16;
    if bits == 0 {
        return Some(Value::Float(f64::NAN));
    }
    let approx = unorder_f64(bits);
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if approx.fract() == 0.0 && (-TWO_POW_63..=TWO_POW_63).contains(&approx) {
        let exact = approx as i128 + i128::from(diff);
        if let Ok(int) = i64::try_from(exact) {
            return Some(Value::Int(int));
        }
    }
    Some(Value::Float(approx))
}

fn unorder_f64(bits: u64) -> f64 {
    if bits >> 63 == 1 {
        f64::from_bits(bits & !(1 << 63))
    } else {
        f64::from_bits(!bits)
    }
}

fn unorder_f32(bits: u32) -> f32 {
    if bits >> 31 == 1 {
        f32::from_bits(bits & !(1 << 31))
    } else {
        f32::from_bits(!bits)
    }
}

/// The bytes of an escaped string at the start of `body`, and how many bytes of `body` the
/// escaped form (terminator included) took.
fn unescape(body: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    while at < body.len() {
        let b = body[at];
        if b == 0x00 {
            match body.get(at + 1) {
                Some(0xFF) => out.push(0),
                Some(0x01) => return Ok((out, at + 2)),
                _ => return Err(IndexError::CorruptKey),
            }
            at += 2;
        } else {
            out.push(b);
            at += 1;
        }
    }
    Err(IndexError::CorruptKey)
}

fn decode_object(body: &[u8]) -> Result<Value> {
    let corrupt = || IndexError::CorruptKey;
    let mut object = Object::new();
    let mut at = 0;
    while body.get(at) == Some(&0x02) {
        at += 1;
        let (name, escaped) = unescape(body.get(at..).ok_or_else(corrupt)?)?;
        at += escaped;
        let rest = body.get(at..).ok_or_else(corrupt)?;
        let len = skip(rest)?;
        let value = decode(&rest[..len])?;
        at += len;
        object.insert(String::from_utf8(name).map_err(|_| corrupt())?, value);
    }
    Ok(Value::Object(object))
}

/// Decodes a geometry key body (kind byte onwards); `-0.0` comes back as `0.0`.
fn decode_geometry(body: &[u8]) -> Option<Geometry> {
    let (&kind, rest) = body.split_first()?;
    let float = |at: usize| -> Option<f64> {
        let raw = rest.get(at..at + 8)?;
        Some(unorder_f64(u64::from_be_bytes(raw.try_into().ok()?)))
    };
    let point =
        |at: usize| -> Option<Point3> { Some([float(at)?, float(at + 8)?, float(at + 16)?]) };
    Some(match kind {
        0 => Geometry::Point(point(0)?),
        1 => Geometry::Segment([point(0)?, point(24)?]),
        2 => Geometry::Triangle([point(0)?, point(24)?, point(48)?]),
        4 => Geometry::Box {
            min: point(0)?,
            max: point(24)?,
        },
        5 => Geometry::Sphere {
            center: point(0)?,
            radius: float(24)?,
        },
        3 => {
            let count = |at: usize| -> Option<usize> {
                Some(u32::from_be_bytes(rest.get(at..at + 4)?.try_into().ok()?) as usize)
            };
            let (vertex_count, triangle_count) = (count(0)?, count(4)?);
            let vertices = (0..vertex_count)
                .map(|v| point(8 + v * 24))
                .collect::<Option<Vec<_>>>()?;
            let base = 8 + vertex_count * 24;
            let index = |at: usize| -> Option<u32> {
                Some(u32::from_be_bytes(rest.get(at..at + 4)?.try_into().ok()?))
            };
            let triangles = (0..triangle_count)
                .map(|t| {
                    let at = base + t * 12;
                    Some([index(at)?, index(at + 4)?, index(at + 8)?])
                })
                .collect::<Option<Vec<_>>>()?;
            Geometry::Mesh(Mesh {
                vertices,
                triangles,
            })
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::encode_to_vec;
    use cairn_doc::values_equal;

    #[test]
    fn round_trips_up_to_numeric_equality() {
        for json in [
            r#"null"#,
            r#"[1, 2.5, "a\u0000b", true, {"z": 1, "a": [null]}]"#,
            r#"-9223372036854775808"#,
            r#"9223372036854775807"#,
            r#"1e300"#,
        ] {
            let value = Value::from_json_expression(json).unwrap();
            let back = decode(&encode_to_vec(&value)).unwrap();
            assert!(values_equal(&value, &back), "{json}: {back:?}");
        }
    }

    #[test]
    fn geometry_keys_round_trip_skip_and_order() {
        use cairn_doc::{Geometry, Mesh};
        let shapes = [
            Geometry::Point([-0.0, 1.0, 2.0]),
            Geometry::Segment([[0.0; 3], [1.0, 2.0, 3.0]]),
            Geometry::Mesh(Mesh {
                vertices: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                triangles: vec![[0, 1, 2]],
            }),
            Geometry::Sphere {
                center: [1.0; 3],
                radius: 2.0,
            },
        ];
        let mut previous: Option<Vec<u8>> = None;
        for shape in shapes {
            let value = Value::from(shape);
            let mut key = crate::keys::encode_to_vec(&value);
            let len = key.len();
            assert_eq!(crate::keys::skip(&key).unwrap(), len);
            let back = decode(&key).unwrap();
            assert!(cairn_doc::values_equal(&back, &value));
            // Kinds sort in kind order, after vectors.
            assert!(key[0] > crate::keys::TAG_VECTOR);
            if let Some(p) = previous {
                assert!(p < key);
            }
            key.push(0xFF);
            assert_eq!(crate::keys::skip(&key).unwrap(), len);
            key.pop();
            previous = Some(key);
        }
    }
}
