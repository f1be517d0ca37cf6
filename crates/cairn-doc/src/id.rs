//! [`DocId`]: document identifiers and their byte-ordered key encoding.
//!
//! A document's id is its `_id` field and its primary key in storage. Storage orders keys by their
//! bytes, so [`DocId::encode_key`] is built so that byte order equals the `Ord` of `DocId`:
//!
//! ```text
//! key := type-tag:u8 payload
//!   0x01 int     8 bytes big-endian, sign bit flipped (so negatives sort before positives)
//!   0x02 string  UTF-8 bytes, no terminator (byte order of UTF-8 is code-point order)
//!   0x03 uuid    16 bytes
//! ```
//!
//! All integer ids sort before all string ids, which sort before all UUID ids, matching the
//! variant order of the enum. A string payload has no terminator, so a key is only ordered
//! correctly when it is the last component of a composite key.

use crate::limits::MAX_ID_BYTES;
use crate::{DocError, Value};

/// Key tag of [`DocId::Int`].
const KEY_TAG_INT: u8 = 0x01;
/// Key tag of [`DocId::String`].
const KEY_TAG_STRING: u8 = 0x02;
/// Key tag of [`DocId::Uuid`].
const KEY_TAG_UUID: u8 = 0x03;
/// Flips the sign bit so two's-complement order becomes unsigned byte order.
const SIGN_BIT: u64 = 1 << 63;

/// A document identifier: an integer, a non-empty string or a UUID.
///
/// `Ord` sorts by variant (ints, then strings, then UUIDs) and then by value, which is exactly the
/// byte order of [`DocId::encode_key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocId {
    /// An integer id.
    Int(i64),
    /// A string id (non-empty; at most [`MAX_ID_BYTES`] - 1 bytes of UTF-8).
    String(String),
    /// A UUID id; [`DocId::new_v7`] makes time-ordered ones.
    Uuid(uuid::Uuid),
}

impl DocId {
    /// A new UUIDv7 id: time-ordered, and strictly increasing across calls in this process (even
    /// within one millisecond), so freshly inserted documents append to the end of the B-tree
    /// instead of splitting pages at random places.
    ///
    /// The ordering comes from `id/v7.rs`: a process-wide counter in the bits after the
    /// millisecond timestamp, restarted at a random value each millisecond.
    pub fn new_v7() -> DocId {
        DocId::Uuid(v7::next())
    }

    /// Appends the key encoding of this id to `out` (see the module documentation).
    ///
    /// Fails for an empty string id or one whose key would exceed [`MAX_ID_BYTES`]; `out` is left
    /// unchanged on error.
    pub fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), DocError> {
        match self {
            DocId::Int(i) => {
                out.push(KEY_TAG_INT);
                out.extend_from_slice(&((*i as u64) ^ SIGN_BIT).to_be_bytes());
            }
            DocId::String(s) => {
                check_string_id(s)?;
                out.push(KEY_TAG_STRING);
                out.extend_from_slice(s.as_bytes());
            }
            DocId::Uuid(u) => {
                out.push(KEY_TAG_UUID);
                out.extend_from_slice(u.as_bytes());
            }
        }
        Ok(())
    }

    /// The key encoding of this id as a new vector.
    pub fn to_key(&self) -> Result<Vec<u8>, DocError> {
        let mut key = Vec::new();
        self.encode_key(&mut key)?;
        Ok(key)
    }

    /// Decodes bytes produced by [`DocId::encode_key`]; the whole slice must be one key.
    pub fn decode_key(bytes: &[u8]) -> Result<DocId, DocError> {
        let corrupt = |reason| DocError::CorruptId { reason };
        let (&tag, payload) = bytes.split_first().ok_or(corrupt("empty key"))?;
        match tag {
            KEY_TAG_INT => {
                let raw: [u8; 8] = payload
                    .try_into()
                    .map_err(|_| corrupt("integer key is not 8 bytes"))?;
                Ok(DocId::Int((u64::from_be_bytes(raw) ^ SIGN_BIT) as i64))
            }
            KEY_TAG_STRING => {
                let text = std::str::from_utf8(payload)
                    .map_err(|_| corrupt("string key is not valid UTF-8"))?;
                check_string_id(text)?;
                Ok(DocId::String(text.to_owned()))
            }
            KEY_TAG_UUID => {
                let raw: [u8; 16] = payload
                    .try_into()
                    .map_err(|_| corrupt("uuid key is not 16 bytes"))?;
                Ok(DocId::Uuid(uuid::Uuid::from_bytes(raw)))
            }
            _ => Err(corrupt("unknown key type tag")),
        }
    }

    /// The id as a document value (what `_id` holds).
    pub fn to_value(&self) -> Value {
        match self {
            DocId::Int(i) => Value::Int(*i),
            DocId::String(s) => Value::String(s.clone()),
            DocId::Uuid(u) => Value::Uuid(*u),
        }
    }

    /// The id held by a value: an `Int`, a non-empty `String` short enough for a key, or a `Uuid`.
    pub fn from_value(value: &Value) -> Result<DocId, DocError> {
        match value {
            Value::Int(i) => Ok(DocId::Int(*i)),
            Value::String(s) => {
                check_string_id(s)?;
                Ok(DocId::String(s.clone()))
            }
            Value::Uuid(u) => Ok(DocId::Uuid(*u)),
            other => Err(DocError::InvalidId {
                found_type: other.type_name(),
            }),
        }
    }

    /// Interprets command-line text as an id: hyphenated UUID text (any case) is a UUID, a canonical
    /// decimal integer is an integer, a JSON string literal (`"123"` with the quotes) is the string
    /// inside it (the way to name a string id that looks like a number), and anything else is the
    /// text itself as a string id.
    ///
    /// "Canonical" means the text is exactly what [`DocId`]'s `Display` prints for that id, so
    /// `parse_cli(&id.to_string())` gives back `id` except for string ids that look like numbers
    /// or UUIDs, which need the quoted form.
    pub fn parse_cli(text: &str) -> DocId {
        if let Ok(u) = uuid::Uuid::try_parse(text) {
            if u.hyphenated().to_string() == text.to_ascii_lowercase() {
                return DocId::Uuid(u);
            }
        }
        if let Ok(i) = text.parse::<i64>() {
            if i.to_string() == text {
                return DocId::Int(i);
            }
        }
        if text.starts_with('"') {
            if let Ok(inner) = serde_json::from_str::<String>(text) {
                return DocId::String(inner);
            }
        }
        DocId::String(text.to_owned())
    }
}

/// Checks a string id: non-empty and short enough that its key fits [`MAX_ID_BYTES`].
fn check_string_id(s: &str) -> Result<(), DocError> {
    if s.is_empty() {
        return Err(DocError::EmptyId);
    }
    let size_bytes = 1 + s.len();
    if size_bytes > MAX_ID_BYTES {
        return Err(DocError::IdTooLong {
            size_bytes,
            limit_bytes: MAX_ID_BYTES,
        });
    }
    Ok(())
}

impl std::fmt::Display for DocId {
    /// UUIDs hyphenated lowercase, integers in decimal, strings as they are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocId::Int(i) => write!(f, "{i}"),
            DocId::String(s) => f.write_str(s),
            DocId::Uuid(u) => write!(f, "{}", u.hyphenated()),
        }
    }
}

impl From<i64> for DocId {
    fn from(i: i64) -> DocId {
        DocId::Int(i)
    }
}

impl From<uuid::Uuid> for DocId {
    fn from(u: uuid::Uuid) -> DocId {
        DocId::Uuid(u)
    }
}

#[cfg(test)]
mod tests;
mod v7;
