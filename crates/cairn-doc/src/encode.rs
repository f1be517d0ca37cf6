//! Encoding documents into the binary format specified in `format.rs`.
//!
//! One walk does both jobs of the encoder: checking the document rules (field names, finite floats,
//! date range, depth, vector size, total size) and emitting bytes. The walk is generic over where
//! the bytes go, so [`encoded_len`] and [`check_document`] run the very same checks while only
//! counting, and can never disagree with [`encode_document`].

use crate::format::{
    fits_f32, vector_padding, ENCODING_VERSION, TAG_ARRAY, TAG_BYTES, TAG_DATETIME, TAG_FALSE,
    TAG_FLOAT32, TAG_FLOAT64, TAG_GEOMETRY, TAG_INT, TAG_NULL, TAG_OBJECT, TAG_STRING, TAG_TRUE,
    TAG_UUID, TAG_VECTOR,
};
use crate::limits::{MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH, MAX_VECTOR_DIM};
use crate::varint::{encode_u64, zigzag_encode, VARINT_MAX_BYTES};
use crate::{check_field_name, DocError, Object, Value, Vector};

/// Appends the encoding of `doc` to `out`.
///
/// `doc` must be an object satisfying the document rules; on any error `out` is left as it was.
/// Vector padding is computed from the current end of `out`, so the encoding must later be decoded
/// from a buffer that starts where this encoding starts (see [`crate::decode_record`]).
pub fn encode_document(doc: &Value, out: &mut Vec<u8>) -> Result<(), DocError> {
    let start = out.len();
    let mut encoder = Encoder {
        sink: VecSink { out, start },
    };
    let result = encoder.document(doc);
    if result.is_err() {
        encoder.sink.out.truncate(start);
    }
    result
}

/// The exact number of bytes [`encode_document`] would append for `doc`, after checking every
/// document rule (so it fails exactly when encoding would).
pub fn encoded_len(doc: &Value) -> Result<usize, DocError> {
    let mut encoder = Encoder {
        sink: CountSink { len: 0 },
    };
    encoder.document(doc)?;
    Ok(encoder.sink.len)
}

/// Checks that `doc` is a valid document (an object obeying every rule and limit) without
/// producing bytes.
pub fn check_document(doc: &Value) -> Result<(), DocError> {
    encoded_len(doc).map(|_| ())
}

/// Checks the document rules for `value` as if it sat inside containers nested `depth` deep (the
/// root object is depth 1), e.g. a value a patch is about to write.
pub(crate) fn check_nested_value(value: &Value, depth: usize) -> Result<(), DocError> {
    let mut encoder = Encoder {
        sink: CountSink { len: 0 },
    };
    encoder.value(value, depth)
}

/// Where encoded bytes go.
trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Bytes written since the start of this encoding.
    fn position(&self) -> usize;
}

/// Appends to a caller's vector; positions count from where this encoding began.
struct VecSink<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl Sink for VecSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    fn position(&self) -> usize {
        self.out.len() - self.start
    }
}

/// Counts bytes without storing them.
struct CountSink {
    len: usize,
}

impl Sink for CountSink {
    fn put(&mut self, bytes: &[u8]) {
        self.len += bytes.len();
    }
    fn position(&self) -> usize {
        self.len
    }
}

struct Encoder<S> {
    sink: S,
}

impl<S: Sink> Encoder<S> {
    fn document(&mut self, doc: &Value) -> Result<(), DocError> {
        let Value::Object(root) = doc else {
            return Err(DocError::RootNotObject {
                found: doc.type_name(),
            });
        };
        self.sink.put(&[ENCODING_VERSION]);
        self.object_body(root, 1)?;
        self.room_for(0)
    }

    /// Fails if writing `additional` more bytes would pass the document size limit.
    ///
    /// Checked before large payloads are copied, so an oversized string is rejected without first
    /// being duplicated into the output.
    fn room_for(&self, additional: usize) -> Result<(), DocError> {
        let size_bytes = self.sink.position().saturating_add(additional);
        if size_bytes > MAX_DOCUMENT_BYTES {
            return Err(DocError::TooLarge {
                size_bytes,
                limit_bytes: MAX_DOCUMENT_BYTES,
            });
        }
        Ok(())
    }

    fn varint(&mut self, value: u64) {
        let mut buf = [0; VARINT_MAX_BYTES];
        let used = encode_u64(value, &mut buf);
        self.sink.put(&buf[..used]);
    }

    /// Writes a length prefix and the bytes, after checking they fit.
    fn length_prefixed(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        self.room_for(bytes.len().saturating_add(VARINT_MAX_BYTES))?;
        self.varint(bytes.len() as u64);
        self.sink.put(bytes);
        Ok(())
    }

    /// Writes an object's count and entries; `depth` is the object's own depth.
    fn object_body(&mut self, object: &Object, depth: usize) -> Result<(), DocError> {
        check_depth(depth)?;
        self.varint(object.len() as u64);
        for (key, value) in object.iter() {
            check_field_name(key)?;
            self.length_prefixed(key.as_bytes())?;
            self.value(value, depth).map_err(|e| e.within(key))?;
        }
        Ok(())
    }

    /// Writes `value`, which sits inside a container at depth `parent_depth`.
    fn value(&mut self, value: &Value, parent_depth: usize) -> Result<(), DocError> {
        match value {
            Value::Null => self.sink.put(&[TAG_NULL]),
            Value::Bool(false) => self.sink.put(&[TAG_FALSE]),
            Value::Bool(true) => self.sink.put(&[TAG_TRUE]),
            Value::Int(i) => {
                self.sink.put(&[TAG_INT]);
                self.varint(zigzag_encode(*i));
            }
            Value::Float(f) => self.float(*f)?,
            Value::String(s) => {
                self.sink.put(&[TAG_STRING]);
                self.length_prefixed(s.as_bytes())?;
            }
            Value::Bytes(b) => {
                self.sink.put(&[TAG_BYTES]);
                self.length_prefixed(b)?;
            }
            Value::Array(items) => self.array(items, parent_depth + 1)?,
            Value::Object(object) => {
                self.sink.put(&[TAG_OBJECT]);
                self.object_body(object, parent_depth + 1)?;
            }
            Value::DateTime(d) => {
                if !d.is_in_document_range() {
                    return Err(DocError::DateTimeOutOfRange {
                        path: String::new(),
                        micros: d.micros(),
                    });
                }
                self.sink.put(&[TAG_DATETIME]);
                self.varint(zigzag_encode(d.micros()));
            }
            Value::Uuid(u) => {
                self.sink.put(&[TAG_UUID]);
                self.sink.put(u.as_bytes());
            }
            Value::Vector(v) => self.vector(v)?,
            Value::Geometry(g) => self.geometry(g)?,
        }
        self.room_for(0)
    }

    fn float(&mut self, f: f64) -> Result<(), DocError> {
        if !f.is_finite() {
            return Err(DocError::NonFiniteFloat {
                path: String::new(),
            });
        }
        if fits_f32(f) {
            self.sink.put(&[TAG_FLOAT32]);
            self.sink.put(&(f as f32).to_le_bytes());
        } else {
            self.sink.put(&[TAG_FLOAT64]);
            self.sink.put(&f.to_le_bytes());
        }
        Ok(())
    }

    /// Writes an array whose own depth is `depth`.
    fn array(&mut self, items: &[Value], depth: usize) -> Result<(), DocError> {
        check_depth(depth)?;
        self.sink.put(&[TAG_ARRAY]);
        self.varint(items.len() as u64);
        for (index, item) in items.iter().enumerate() {
            self.value(item, depth)
                .map_err(|e| e.within(&index.to_string()))?;
        }
        Ok(())
    }

    fn geometry(&mut self, geometry: &crate::Geometry) -> Result<(), DocError> {
        geometry
            .validate()
            .map_err(|defect| DocError::InvalidGeometry {
                path: String::new(),
                defect,
            })?;
        if let crate::Geometry::Mesh(mesh) = geometry {
            // Checked before the payload is built, so a huge mesh is refused without a copy.
            let estimate = mesh.vertices.len() * 24 + mesh.triangles.len() * 3;
            self.room_for(estimate)?;
        }
        let mut payload = Vec::new();
        geometry.encode_payload(&mut payload);
        self.room_for(payload.len() + 1)?;
        self.sink.put(&[TAG_GEOMETRY]);
        self.sink.put(&payload);
        Ok(())
    }

    fn vector(&mut self, vector: &Vector) -> Result<(), DocError> {
        let components = vector.as_slice();
        if components.len() > MAX_VECTOR_DIM {
            return Err(DocError::VectorTooLarge {
                path: String::new(),
                dim: components.len(),
                limit: MAX_VECTOR_DIM,
            });
        }
        if components.iter().any(|c| !c.is_finite()) {
            return Err(DocError::NonFiniteFloat {
                path: String::new(),
            });
        }
        self.room_for(components.len() * 4 + VARINT_MAX_BYTES + 4)?;
        self.sink.put(&[TAG_VECTOR]);
        self.varint(components.len() as u64);
        let padding = vector_padding(self.sink.position());
        self.sink.put(&[0; 3][..padding]);
        // The target is little-endian (see vector.rs), so the in-memory floats are the format.
        self.sink.put(bytemuck::cast_slice(components));
        Ok(())
    }
}

/// Fails if a container at `depth` would pass the nesting limit.
fn check_depth(depth: usize) -> Result<(), DocError> {
    if depth > MAX_NESTING_DEPTH {
        return Err(DocError::TooDeep {
            depth,
            limit: MAX_NESTING_DEPTH,
        });
    }
    Ok(())
}
