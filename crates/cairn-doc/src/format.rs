//! The binary document encoding, version 1: the specification both [`crate::encode_document`] and
//! [`crate::decode_record`] follow.
//!
//! ```text
//! document  := version:u8 object-body            version is ENCODING_VERSION (1); the root is
//!                                                always an object, so it carries no tag
//! value     := tag:u8 payload
//! object-body := count:varint (key value){count}  keys in insertion order, unique, each a valid
//!                                                field name
//! key       := len:varint utf8-bytes{len}
//!
//! tag  type      payload
//! 0x00 null      -
//! 0x01 false     -
//! 0x02 true      -
//! 0x03 int       zigzag varint
//! 0x04 float     8 bytes, IEEE 754 binary64 little-endian; only for floats that binary32 cannot
//!                hold exactly
//! 0x05 float32   4 bytes, IEEE 754 binary32 little-endian; every float that converts to f32 and
//!                back bit-for-bit (1.5, 2.0, -0.0 ...) uses this shorter form, decoded as f64
//! 0x06 string    len:varint utf8-bytes{len}
//! 0x07 bytes     len:varint bytes{len}
//! 0x08 array     count:varint value{count}
//! 0x09 object    object-body
//! 0x0A datetime  zigzag varint of microseconds since the Unix epoch
//! 0x0B uuid      16 bytes, RFC 9562 byte order
//! 0x0C vector    dim:varint zero-byte{0..=3} f32-le{dim}
//! 0x0D geometry  kind:u8 payload (see `geometry.rs`): coordinates as f64-le, a mesh's counts
//!                and indices as varints; always a valid geometry
//! ```
//!
//! *varint* is unsigned LEB128 in its shortest form (see `varint.rs`); *zigzag* maps signed to
//! unsigned so small magnitudes stay short.
//!
//! **Vector alignment.** The zero bytes before a vector's components pad them to an offset that is a
//! multiple of 4 *from the start of the encoding* (the version byte is offset 0). A record buffer
//! starts 8-aligned, so the components can then be read in place as `&[f32]`; see
//! [`crate::RecordBuf`]. Padding is always exactly what is needed (0 to 3 bytes) and must be zero.
//!
//! **One encoding per document.** Every value has exactly one valid encoding: varints must be
//! shortest, floats must use the shortest exact form, padding is fixed. Two equal documents (same
//! key order) therefore encode to the same bytes, and the decoder rejects anything else as corrupt.
//!
//! **What the decoder checks.** Everything the encoder guarantees: the version, known tags, lengths
//! and counts within the bytes remaining (checked before anything is allocated), valid UTF-8, valid
//! and unique field names, finite floats and vector components, dates in years 0000..=9999, the
//! nesting, vector and size limits, zero padding, and no trailing bytes. Hostile input yields
//! [`crate::DocError::Corrupt`], never a panic or an allocation larger than the input justifies.

/// Version byte written first in every encoded document.
///
/// Bump it when the format changes incompatibly; the decoder refuses versions it does not know
/// with [`crate::DocError::UnsupportedVersion`] instead of misreading them.
pub const ENCODING_VERSION: u8 = 1;

/// Tag of `Value::Null`.
pub(crate) const TAG_NULL: u8 = 0x00;
/// Tag of `Value::Bool(false)`.
pub(crate) const TAG_FALSE: u8 = 0x01;
/// Tag of `Value::Bool(true)`.
pub(crate) const TAG_TRUE: u8 = 0x02;
/// Tag of `Value::Int`.
pub(crate) const TAG_INT: u8 = 0x03;
/// Tag of a `Value::Float` stored as binary64.
pub(crate) const TAG_FLOAT64: u8 = 0x04;
/// Tag of a `Value::Float` that binary32 holds exactly.
pub(crate) const TAG_FLOAT32: u8 = 0x05;
/// Tag of `Value::String`.
pub(crate) const TAG_STRING: u8 = 0x06;
/// Tag of `Value::Bytes`.
pub(crate) const TAG_BYTES: u8 = 0x07;
/// Tag of `Value::Array`.
pub(crate) const TAG_ARRAY: u8 = 0x08;
/// Tag of `Value::Object`.
pub(crate) const TAG_OBJECT: u8 = 0x09;
/// Tag of `Value::DateTime`.
pub(crate) const TAG_DATETIME: u8 = 0x0A;
/// Tag of `Value::Uuid`.
pub(crate) const TAG_UUID: u8 = 0x0B;
/// Tag of `Value::Vector`.
pub(crate) const TAG_VECTOR: u8 = 0x0C;

/// Tag of `Value::Geometry`.
pub(crate) const TAG_GEOMETRY: u8 = 0x0D;

/// Zero bytes needed after `position` to reach the next multiple of 4.
pub(crate) fn vector_padding(position: usize) -> usize {
    (4 - position % 4) % 4
}

/// Whether `value` converts to `f32` and back without changing a bit, so it can use
/// [`TAG_FLOAT32`].
pub(crate) fn fits_f32(value: f64) -> bool {
    ((value as f32) as f64).to_bits() == value.to_bits()
}
