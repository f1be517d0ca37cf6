//! Decoding the binary format specified in `format.rs`, defensively.
//!
//! Bytes reaching the decoder may be damaged on disk, truncated in transit or crafted by an
//! attacker, so every read is bounds-checked, every length is compared with the bytes actually
//! remaining before anything is allocated, and recursion is bounded by the nesting limit. Any
//! violation is a [`DocError::Corrupt`] naming the offset; the decoder never panics.

use crate::field_name::check_field_name;
use crate::format::{
    fits_f32, vector_padding, ENCODING_VERSION, TAG_ARRAY, TAG_BYTES, TAG_DATETIME, TAG_FALSE,
    TAG_FLOAT32, TAG_FLOAT64, TAG_GEOMETRY, TAG_INT, TAG_NULL, TAG_OBJECT, TAG_STRING, TAG_TRUE,
    TAG_UUID, TAG_VECTOR,
};
use crate::limits::{MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH, MAX_VECTOR_DIM};
use crate::varint::{decode_u64, zigzag_decode};
use crate::{DateTime, DocError, Object, RecordBuf, Value, Vector};

/// Most array elements or object fields reserved up front, whatever count the input claims.
///
/// Counts are already checked against the bytes remaining, but one byte of input can become a
/// 40-byte `Value`; capping the reservation means a lying count costs at most this much memory
/// before the decoder notices the elements are missing, while honest large arrays simply grow.
const PREALLOCATED_ITEMS_MAX: usize = 1024;

/// Decodes a document from `bytes`. A document holding vectors copies `bytes` once into a new
/// [`RecordBuf`] that its vectors share; any other document is decoded straight from `bytes`
/// (no copy of the encoding: a read decodes a record where it lies).
pub fn decode_document(bytes: &[u8]) -> Result<Value, DocError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large(bytes.len()));
    }
    let mut reader = Reader {
        backing: Backing::Lazy(None),
        bytes,
        pos: 0,
    };
    reader.document()
}

/// Decodes the document that starts at byte 0 of `buf` and fills it exactly.
///
/// Every [`Vector`] in the result reads its components in place from `buf` (holding a clone of the
/// handle), so no floats are copied.
pub fn decode_record(buf: &RecordBuf) -> Result<Value, DocError> {
    if buf.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large(buf.len()));
    }
    let mut reader = Reader {
        backing: Backing::Shared(buf),
        bytes: buf.as_bytes(),
        pos: 0,
    };
    reader.document()
}

/// Decodes only the top-level fields of the document in `bytes` named in `fields` (an object
/// of those present, in stored order); every other field is stepped over without allocating.
/// What a reader that needs a few fields uses instead of [`decode_document`] (an index build
/// needs its indexed fields, not the whole document). Bounds, lengths and nesting are checked
/// as in a full decode, so damaged input is still an error and never a panic; the contents of
/// skipped fields are not validated (a full decode of the same bytes does that).
pub fn decode_fields(bytes: &[u8], fields: &[&str]) -> Result<Value, DocError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large(bytes.len()));
    }
    let mut reader = Reader {
        backing: Backing::Lazy(None),
        bytes,
        pos: 0,
    };
    reader.version()?;
    let count = reader.count(3)?;
    let mut object = Object::with_capacity(count.min(fields.len()));
    for _ in 0..count {
        let key_offset = reader.pos;
        let key = reader.str()?;
        if fields.contains(&key) {
            if check_field_name(key).is_err() {
                return Err(DocError::Corrupt {
                    offset: key_offset,
                    reason: "invalid field name",
                });
            }
            let value = reader.value(1)?;
            object.push_unchecked(key.to_owned(), value);
        } else {
            reader.skip_value(1)?;
        }
    }
    if reader.pos != reader.bytes.len() {
        return Err(reader.corrupt("trailing bytes after the document"));
    }
    if object.first_duplicate_key().is_some() {
        return Err(reader.corrupt("duplicate key in object"));
    }
    Ok(Value::Object(object))
}

fn too_large(size_bytes: usize) -> DocError {
    DocError::TooLarge {
        size_bytes,
        limit_bytes: MAX_DOCUMENT_BYTES,
    }
}

/// Where decoded vectors find their components.
enum Backing<'a> {
    /// The caller's aligned buffer holding the encoding, shared by every vector.
    Shared(&'a RecordBuf),
    /// A copy of the encoding, made when the first vector is met (most documents hold none).
    Lazy(Option<RecordBuf>),
}

struct Reader<'a> {
    backing: Backing<'a>,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads the version byte, the root object and checks nothing trails it.
    fn document(&mut self) -> Result<Value, DocError> {
        self.version()?;
        let root = self.object_body(1)?;
        if self.pos != self.bytes.len() {
            return Err(self.corrupt("trailing bytes after the document"));
        }
        Ok(Value::Object(root))
    }

    fn version(&mut self) -> Result<(), DocError> {
        let version = self.byte()?;
        if version != ENCODING_VERSION {
            return Err(DocError::UnsupportedVersion { found: version });
        }
        Ok(())
    }

    /// The aligned buffer holding the encoding (the same bytes, so the same offsets).
    fn record_buf(&mut self) -> &RecordBuf {
        match &mut self.backing {
            Backing::Shared(buf) => buf,
            Backing::Lazy(slot) => slot.get_or_insert_with(|| RecordBuf::copy_from(self.bytes)),
        }
    }

    fn corrupt(&self, reason: &'static str) -> DocError {
        DocError::Corrupt {
            offset: self.pos,
            reason,
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, DocError> {
        let byte = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.corrupt("unexpected end of input"))?;
        self.pos += 1;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DocError> {
        if len > self.remaining() {
            return Err(self.corrupt("length runs past the end of input"));
        }
        let bytes = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DocError> {
        let bytes = self.take(N)?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    fn varint(&mut self) -> Result<u64, DocError> {
        decode_u64(self.bytes, &mut self.pos).map_err(|e| self.corrupt(e.reason()))
    }

    /// Reads a length or count and checks that at least `min_bytes_each` bytes per item remain,
    /// so no allocation can outgrow the input.
    fn count(&mut self, min_bytes_each: usize) -> Result<usize, DocError> {
        let count = self.varint()?;
        let needed = count.saturating_mul(min_bytes_each as u64);
        if needed > self.remaining() as u64 {
            return Err(self.corrupt("length or count exceeds the bytes remaining"));
        }
        // Fits: it is at most the number of bytes remaining.
        Ok(count as usize)
    }

    fn string(&mut self) -> Result<String, DocError> {
        self.str().map(str::to_owned)
    }

    /// A string, borrowed from the input.
    fn str(&mut self) -> Result<&'a str, DocError> {
        let len = self.count(1)?;
        let start = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| DocError::Corrupt {
            offset: start,
            reason: "string is not valid UTF-8",
        })
    }

    /// Steps over one tagged value inside a container at depth `parent_depth`, checking
    /// lengths, counts and nesting as [`Reader::value`] does but allocating nothing (except
    /// for a geometry, which is decoded to be checked: rare, and its layout is variable).
    fn skip_value(&mut self, parent_depth: usize) -> Result<(), DocError> {
        let tag_offset = self.pos;
        match self.byte()? {
            TAG_NULL | TAG_FALSE | TAG_TRUE => {}
            TAG_INT | TAG_DATETIME => {
                self.varint()?;
            }
            TAG_FLOAT64 => {
                self.take(8)?;
            }
            TAG_FLOAT32 => {
                self.take(4)?;
            }
            TAG_STRING | TAG_BYTES => {
                let len = self.count(1)?;
                self.take(len)?;
            }
            TAG_UUID => {
                self.take(16)?;
            }
            TAG_ARRAY => {
                let depth = parent_depth + 1;
                if depth > MAX_NESTING_DEPTH {
                    return Err(self.corrupt("nesting deeper than MAX_NESTING_DEPTH"));
                }
                for _ in 0..self.count(1)? {
                    self.skip_value(depth)?;
                }
            }
            TAG_OBJECT => {
                let depth = parent_depth + 1;
                if depth > MAX_NESTING_DEPTH {
                    return Err(self.corrupt("nesting deeper than MAX_NESTING_DEPTH"));
                }
                for _ in 0..self.count(3)? {
                    let len = self.count(1)?;
                    self.take(len)?;
                    self.skip_value(depth)?;
                }
            }
            TAG_VECTOR => {
                let dim = self.varint()?;
                if dim > MAX_VECTOR_DIM as u64 {
                    return Err(self.corrupt("vector has more than MAX_VECTOR_DIM dimensions"));
                }
                self.take(vector_padding(self.pos))?;
                // Bounded by MAX_VECTOR_DIM just above.
                self.take(dim as usize * 4)?;
            }
            TAG_GEOMETRY => {
                self.geometry()?;
            }
            _ => {
                return Err(DocError::Corrupt {
                    offset: tag_offset,
                    reason: "unknown value tag",
                })
            }
        }
        Ok(())
    }

    /// Reads an object's count and entries; `depth` is the object's own depth.
    fn object_body(&mut self, depth: usize) -> Result<Object, DocError> {
        if depth > MAX_NESTING_DEPTH {
            return Err(self.corrupt("nesting deeper than MAX_NESTING_DEPTH"));
        }
        // Each entry takes at least a key length, one key byte and a tag.
        let count = self.count(3)?;
        let mut object = Object::with_capacity(count.min(PREALLOCATED_ITEMS_MAX));
        for _ in 0..count {
            let key_offset = self.pos;
            let key = self.string()?;
            if check_field_name(&key).is_err() {
                return Err(DocError::Corrupt {
                    offset: key_offset,
                    reason: "invalid field name",
                });
            }
            let value = self.value(depth)?;
            object.push_unchecked(key, value);
        }
        if object.first_duplicate_key().is_some() {
            return Err(self.corrupt("duplicate key in object"));
        }
        Ok(object)
    }

    /// Reads one tagged value sitting inside a container at depth `parent_depth`.
    fn value(&mut self, parent_depth: usize) -> Result<Value, DocError> {
        let tag_offset = self.pos;
        let value = match self.byte()? {
            TAG_NULL => Value::Null,
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_INT => Value::Int(zigzag_decode(self.varint()?)),
            TAG_FLOAT64 => self.float64()?,
            TAG_FLOAT32 => self.float32()?,
            TAG_STRING => Value::String(self.string()?),
            TAG_BYTES => {
                let len = self.count(1)?;
                Value::Bytes(self.take(len)?.to_vec())
            }
            TAG_ARRAY => Value::Array(self.array(parent_depth + 1)?),
            TAG_OBJECT => Value::Object(self.object_body(parent_depth + 1)?),
            TAG_DATETIME => {
                let date = DateTime(zigzag_decode(self.varint()?));
                if !date.is_in_document_range() {
                    return Err(self.corrupt("date outside years 0000..=9999"));
                }
                Value::DateTime(date)
            }
            TAG_UUID => Value::Uuid(uuid::Uuid::from_bytes(self.take_array()?)),
            TAG_VECTOR => Value::Vector(self.vector()?),
            TAG_GEOMETRY => Value::Geometry(Box::new(self.geometry()?)),
            _ => {
                return Err(DocError::Corrupt {
                    offset: tag_offset,
                    reason: "unknown value tag",
                })
            }
        };
        Ok(value)
    }

    fn float64(&mut self) -> Result<Value, DocError> {
        let value = f64::from_le_bytes(self.take_array()?);
        if !value.is_finite() {
            return Err(self.corrupt("non-finite float"));
        }
        if fits_f32(value) {
            return Err(self.corrupt("float64 that float32 holds exactly (non-canonical)"));
        }
        Ok(Value::Float(value))
    }

    fn float32(&mut self) -> Result<Value, DocError> {
        let value = f32::from_le_bytes(self.take_array()?);
        if !value.is_finite() {
            return Err(self.corrupt("non-finite float"));
        }
        Ok(Value::Float(value.into()))
    }

    /// Reads an array whose own depth is `depth`.
    fn array(&mut self, depth: usize) -> Result<Vec<Value>, DocError> {
        if depth > MAX_NESTING_DEPTH {
            return Err(self.corrupt("nesting deeper than MAX_NESTING_DEPTH"));
        }
        let count = self.count(1)?;
        let mut items = Vec::with_capacity(count.min(PREALLOCATED_ITEMS_MAX));
        for _ in 0..count {
            items.push(self.value(depth)?);
        }
        Ok(items)
    }

    fn point(&mut self) -> Result<crate::Point3, DocError> {
        let mut point = [0.0; 3];
        for c in &mut point {
            *c = f64::from_le_bytes(self.take_array()?);
        }
        Ok(point)
    }

    /// Reads a geometry payload and checks it obeys the geometry rules.
    fn geometry(&mut self) -> Result<crate::Geometry, DocError> {
        use crate::limits::{MAX_MESH_TRIANGLES, MAX_MESH_VERTICES};
        use crate::Geometry;
        let offset = self.pos;
        let geometry = match self.byte()? {
            0 => Geometry::Point(self.point()?),
            1 => Geometry::Segment([self.point()?, self.point()?]),
            2 => Geometry::Triangle([self.point()?, self.point()?, self.point()?]),
            3 => {
                let vertex_count = self.varint()?;
                let triangle_count = self.varint()?;
                if vertex_count > MAX_MESH_VERTICES as u64
                    || triangle_count > MAX_MESH_TRIANGLES as u64
                {
                    return Err(self.corrupt("mesh beyond the vertex or triangle limit"));
                }
                let needed = vertex_count * 24 + triangle_count * 3;
                if needed > self.remaining() as u64 {
                    return Err(self.corrupt("mesh counts exceed the bytes remaining"));
                }
                let mut mesh = crate::Mesh {
                    vertices: Vec::with_capacity(vertex_count as usize),
                    triangles: Vec::with_capacity(triangle_count as usize),
                };
                for _ in 0..vertex_count {
                    mesh.vertices.push(self.point()?);
                }
                for _ in 0..triangle_count {
                    let mut t = [0u32; 3];
                    for i in &mut t {
                        *i = u32::try_from(self.varint()?)
                            .map_err(|_| self.corrupt("mesh index beyond 32 bits"))?;
                    }
                    mesh.triangles.push(t);
                }
                Geometry::Mesh(mesh)
            }
            4 => Geometry::Box {
                min: self.point()?,
                max: self.point()?,
            },
            5 => Geometry::Sphere {
                center: self.point()?,
                radius: f64::from_le_bytes(self.take_array()?),
            },
            _ => {
                return Err(DocError::Corrupt {
                    offset,
                    reason: "unknown geometry kind",
                })
            }
        };
        if geometry.validate().is_err() {
            return Err(DocError::Corrupt {
                offset,
                reason: "invalid geometry",
            });
        }
        Ok(geometry)
    }

    fn vector(&mut self) -> Result<Vector, DocError> {
        let dim = self.varint()?;
        if dim > MAX_VECTOR_DIM as u64 {
            return Err(self.corrupt("vector has more than MAX_VECTOR_DIM dimensions"));
        }
        // Bounded by MAX_VECTOR_DIM just above.
        let dim = dim as usize;
        let padding = self.take(vector_padding(self.pos))?;
        if padding.iter().any(|&b| b != 0) {
            return Err(self.corrupt("non-zero vector padding"));
        }
        let offset = self.pos;
        self.take(dim * 4)?;
        let vector =
            Vector::from_record(self.record_buf(), offset, dim).ok_or(DocError::Corrupt {
                offset,
                reason: "vector components are out of bounds or misaligned",
            })?;
        if vector.as_slice().iter().any(|c| !c.is_finite()) {
            return Err(DocError::Corrupt {
                offset,
                reason: "non-finite vector component",
            });
        }
        Ok(vector)
    }
}
